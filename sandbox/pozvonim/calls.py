"""Calls ("Звонки"): start one now, order one for later (ISO 8601), list and read them.

Calls go to any site of the account, its contributors' included; `calls` lists those on the
account's own sites, `contributors/:id/calls` those on that contributor's sites. Starting a
call answers 202 (accepted: the vendor dials asynchronously) and is recorded as a row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .handler import Ctx
from .query import integer, ints, text
from .siteconfig import phone
from .sites import find_contributor
from .store import CallRec
from .wire import Answer, invalid, not_found, parse_time, render_time, utcnow

STATUSES = {1: "in_progress", 2: "delayed"}
CALL_FIELDS = ("region", "source_call", "source_enter", "source_referer", "return_count", "ip", "useragent")
_NUMBERS = ("region", "return_count")


def render_call(call: CallRec, tz: str) -> dict[str, Any]:
    return {
        "id": call.id, "site_id": call.site_id, "contributor_id": call.contributor_id,
        "status_id": call.status_id, "status": STATUSES[call.status_id], **call.fields,
        "created_at": render_time(call.created_at, tz), "delayed_at": render_time(call.delayed_at, tz),
    }


def _call_fields(params: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(params) - {"phone", *allowed})
    if unknown:
        raise invalid(f"unknown parameter {unknown[0]}")
    if "phone" not in params:
        raise invalid("phone is required")
    fields: dict[str, Any] = {"phone": phone(params["phone"], "phone")}
    for name in CALL_FIELDS:
        if name in params:
            parse = integer if name in _NUMBERS else text
            fields[name] = parse(params[name], name)
    return fields


def _delayed(params: dict[str, Any]) -> datetime:
    if "delayed" not in params:
        raise invalid("delayed is required")
    try:
        moment = datetime.fromisoformat(text(params["delayed"], "delayed"))
    except ValueError:
        raise invalid("delayed must be ISO 8601, e.g. 2015-10-02T17:58:43+03:00") from None
    if moment.tzinfo is None:
        raise invalid("delayed must carry its UTC offset (ISO 8601 with Z or +hh:mm)")
    if moment <= utcnow():
        raise invalid("delayed must be in the future")
    return moment


def _start(ctx: Ctx, delayed: bool) -> Answer:
    site = ctx.account.sites.get(ctx.path_id())
    if site is None:
        raise not_found("site", ctx.request.match_info["id"])
    fields = _call_fields(ctx.params, CALL_FIELDS + (("delayed",) if delayed else ()))
    fields["manager"] = site.config["managers"][0]["phone"]
    when = _delayed(ctx.params) if delayed else None
    call = CallRec(ctx.ps.next_id(), site.id, site.contributor_id, 2 if delayed else 1, fields, utcnow(), when)
    ctx.account.calls[call.id] = call
    kind = "call.delayed" if delayed else "call.now"
    row = ctx.row(kind, call_id=call.id, site_id=site.id, phone=fields["phone"],
                  delayed=when.isoformat() if when else None, region=fields.get("region"))
    return Answer(202, render_call(call, ctx.tz), row, (kind, site.id, fields["phone"], row["delayed"]))


def call_now(ctx: Ctx) -> Answer:
    return _start(ctx, delayed=False)


def call_delayed(ctx: Ctx) -> Answer:
    return _start(ctx, delayed=True)


def _matches(call: CallRec, params: dict[str, Any], tz: str) -> bool:
    if "start_at" in params and call.created_at < parse_time(text(params["start_at"], "start_at"), tz, "start_at"):
        return False
    if "end_at" in params and call.created_at > parse_time(text(params["end_at"], "end_at"), tz, "end_at"):
        return False
    checks = (("status_ids", call.status_id), ("sites_ids", call.site_id))
    if any(name in params and value not in ints(params[name], name) for name, value in checks):
        return False
    if "client" in params and _digits(params["client"]) != _digits(call.fields["phone"]):
        return False
    return "manager" not in params or _digits(params["manager"]) == _digits(call.fields["manager"])


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


def _list(ctx: Ctx, contributor_id: int | None, filters: tuple[str, ...]) -> Answer:
    unknown = sorted(set(ctx.params) - set(filters))
    if unknown:
        raise invalid(f"unknown parameter {unknown[0]}")
    calls = [call for call in ctx.account.calls.values() if call.contributor_id == contributor_id]
    if "ids" in ctx.params:  # "При указание этого фильтра все остальные не применяются"
        wanted = set(ints(ctx.params["ids"], "ids"))
        calls = [call for call in calls if call.id in wanted]
    else:
        calls = [call for call in calls if _matches(call, ctx.params, ctx.tz)]
    return Answer(200, [render_call(call, ctx.tz) for call in calls])


def _get(ctx: Ctx, call_id: int, contributor_id: int | None) -> Answer:
    call = ctx.account.calls.get(call_id)
    if call is None or call.contributor_id != contributor_id:
        raise not_found("call", call_id)
    return Answer(200, render_call(call, ctx.tz))


STUDIO_FILTERS = ("start_at", "end_at", "ids", "status_ids", "sites_ids")


def list_calls(ctx: Ctx) -> Answer:
    return _list(ctx, None, STUDIO_FILTERS + ("client", "manager"))


def get_call(ctx: Ctx) -> Answer:
    return _get(ctx, ctx.path_id(), None)


def list_contributor_calls(ctx: Ctx) -> Answer:
    return _list(ctx, find_contributor(ctx).id, STUDIO_FILTERS)


def get_contributor_call(ctx: Ctx) -> Answer:
    return _get(ctx, ctx.path_id("call_id"), find_contributor(ctx).id)
