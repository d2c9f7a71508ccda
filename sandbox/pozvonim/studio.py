"""Studio ("Студии"): contributors (the studio's clients), one-call contributor + site, payments.

Passwords are checked and dropped: never stored, echoed or recorded.
Payments move money from the account's main (type 1) or partner (type 2) balance to the
contributor's; `contributors/:id/payments` is the doc's alias of `payments/contributors/:id`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .handler import Ctx
from .query import integer, text
from .siteconfig import parse_config
from .sites import find_contributor, new_site, render_site
from .store import ContributorRec
from .wire import Answer, ApiError, invalid, render_time, utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_CHARS = 6


def money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def render_contributor(ctx: Ctx, contributor: ContributorRec, with_sites: bool = False) -> dict[str, Any]:
    sites = [site for site in ctx.account.sites.values() if site.contributor_id == contributor.id]
    body: dict[str, Any] = {
        "id": contributor.id, "email": contributor.email, "created_at": render_time(contributor.created_at, ctx.tz),
        "balance": money(contributor.balance), "sites_count": len(sites),
    }
    if with_sites:
        body["sites"] = [render_site(site, ctx.tz) for site in sites]
    return body


def _new_contributor(ctx: Ctx) -> ContributorRec:
    email = text(ctx.params.get("email", ""), "email").strip()
    password = text(ctx.params.get("password", ""), "password")
    if not _EMAIL.match(email):
        raise invalid("email is required and must be an e-mail address")
    if len(password) < MIN_PASSWORD_CHARS:
        raise invalid(f"password is required, at least {MIN_PASSWORD_CHARS} characters")
    if any(other.email.lower() == email.lower() for other in ctx.account.contributors.values()):
        raise ApiError(409, "CONTRIBUTOR-EXISTS", f"a contributor with e-mail {email} exists")
    contributor = ContributorRec(ctx.ps.next_id(), email, utcnow())
    ctx.account.contributors[contributor.id] = contributor
    return contributor


def list_contributors(ctx: Ctx) -> Answer:
    return Answer(200, [render_contributor(ctx, c) for c in ctx.account.contributors.values()])


def create_contributor(ctx: Ctx) -> Answer:
    unknown = sorted(set(ctx.params) - {"email", "password"})
    if unknown:
        raise invalid(f"unknown parameter {unknown[0]}")
    contributor = _new_contributor(ctx)
    row = ctx.row("contributor.create", contributor_id=contributor.id, email=contributor.email)
    return Answer(201, render_contributor(ctx, contributor), row, ("contributor", contributor.email))


def get_contributor(ctx: Ctx) -> Answer:
    return Answer(200, render_contributor(ctx, find_contributor(ctx), with_sites=True))


def create_contributor_with_site(ctx: Ctx) -> Answer:
    config = parse_config(ctx.params, extra=("email", "password"))  # all checks before any change
    contributor = _new_contributor(ctx)
    site = new_site(ctx, config, contributor.id)
    row = ctx.row("contributor.create_with_site", contributor_id=contributor.id, email=contributor.email,
                  site_id=site.id, url=config["site"]["url"])
    body = {"contributor": render_contributor(ctx, contributor), "site": render_site(site, ctx.tz)}
    return Answer(201, body, row, ("contributor", contributor.email))


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(text(value, "amount"))
    except InvalidOperation:
        raise invalid("amount must be a number") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise invalid("amount must be positive, with at most 2 decimals")
    return amount


def _pay(ctx: Ctx, via: str) -> Answer:
    contributor = find_contributor(ctx)
    unknown = sorted(set(ctx.params) - {"type", "amount"})
    if unknown or "type" not in ctx.params or "amount" not in ctx.params:
        raise invalid(f"unknown parameter {unknown[0]}" if unknown else "type and amount are required")
    source = integer(ctx.params["type"], "type")
    if source not in (1, 2):
        raise invalid("type must be 1 (main balance) or 2 (partner balance)")
    amount = _amount(ctx.params["amount"])
    field = "balance" if source == 1 else "partner_balance"
    available = getattr(ctx.account, field)
    if amount > available:
        raise ApiError(402, "PAYMENT-INSUFFICIENT-FUNDS", f"only {money(available)} available")
    setattr(ctx.account, field, available - amount)
    contributor.balance += amount
    payment_id = ctx.ps.next_id()
    body = {"id": payment_id, "contributor_id": contributor.id, "type": source, "amount": money(amount),
            "created_at": render_time(utcnow(), ctx.tz), "balance": money(available - amount)}
    row = ctx.row("payment", payment_id=payment_id, contributor_id=contributor.id, type=source, amount=str(amount),
                  via=via)
    return Answer(201, body, row, ("payment", payment_id))


def pay_contributor(ctx: Ctx) -> Answer:
    return _pay(ctx, "payments/contributors/:id")


def pay_contributor_alias(ctx: Ctx) -> Answer:
    return _pay(ctx, "contributors/:id/payments")
