"""Server time ("Прочее"), widgets ("Виджет") and the profile ("Профиль").

Updating the profile is real: a new api_key is what auth/token checks from then on, a new
timezone changes every DATETIME answered, api_enable=FALSE locks the API (403) as the
vendor's profile page would. The key is never echoed nor recorded.
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .handler import Ctx
from .query import flag, ints, text
from .store import SiteRec
from .studio import money
from .wire import Answer, invalid, not_found, render_time, utcnow

MIN_API_KEY_CHARS = 6


def server_time(ctx: Ctx) -> Answer:
    now = utcnow()
    return Answer(200, {"time": render_time(now, ctx.tz), "timezone": ctx.tz, "timestamp": int(now.timestamp())})


def render_widget(site: SiteRec) -> dict[str, Any]:
    return {"id": site.widget_id, "site_id": site.id, "settings": site.config["widget"]}


def list_widgets(ctx: Ctx) -> Answer:
    wanted = set(ints(ctx.params.get("sites_ids"), "sites_ids"))
    sites = [site for site in ctx.account.sites.values()
             if site.contributor_id is None and (not wanted or site.id in wanted)]
    return Answer(200, [render_widget(site) for site in sites])


def get_widget(ctx: Ctx) -> Answer:
    widget_id = ctx.path_id()
    for site in ctx.account.sites.values():
        if site.widget_id == widget_id:
            return Answer(200, render_widget(site))
    raise not_found("widget", widget_id)


def render_profile(ctx: Ctx) -> dict[str, Any]:
    account = ctx.account
    return {
        "id": int(account.uid) if account.uid.isdigit() else account.uid,
        "email": f"user{account.uid}@sandbox.pozvonim.invalid", "timezone": account.timezone,
        "api_enable": account.api_enable, "balance": money(account.balance),
        "partner_balance": money(account.partner_balance),
    }


def get_profile(ctx: Ctx) -> Answer:
    return Answer(200, render_profile(ctx))


def update_profile(ctx: Ctx) -> Answer:
    params = ctx.params
    missing = [name for name in ("timezone", "api_enable", "api_key") if name not in params]
    if missing or set(params) - {"timezone", "api_enable", "api_key"}:
        raise invalid(f"{missing[0]} is required" if missing else "only timezone, api_enable, api_key")
    tz, enable, key = text(params["timezone"], "timezone"), flag(params["api_enable"], "api_enable"), params["api_key"]
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"unknown timezone {tz}") from None
    if len(text(key, "api_key")) < MIN_API_KEY_CHARS:
        raise invalid(f"api_key must have at least {MIN_API_KEY_CHARS} characters")
    ctx.account.timezone, ctx.account.api_enable = tz, enable
    ctx.ps.config.accounts[ctx.account.uid] = key
    row = ctx.row("profile.update", timezone=tz, api_enable=enable)
    return Answer(200, render_profile(ctx), row, ("profile", ctx.account.uid, time.time()))
