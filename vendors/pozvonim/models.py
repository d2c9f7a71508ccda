"""What the other Pozvonim requests carry: calls, filters, profile, payments, contributors."""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum
from typing import Any

from pydantic import AwareDatetime, Field, NaiveDatetime, SecretStr

from .params import PHONE_PATTERN, Params, Password, datetime_param
from .site import SiteConfig


class CallRequest(Params):
    """POST sites/:id/call."""

    phone: str = Field(pattern=PHONE_PATTERN)
    region: int | None = None
    source_call: str | None = Field(default=None, description="page where the client entered the number")
    source_enter: str | None = Field(default=None, description="landing page")
    source_referer: str | None = None
    return_count: int | None = Field(default=None, ge=0, description="pages seen before ordering the call")
    ip: str | None = None
    useragent: str | None = None


class DelayedCallRequest(CallRequest):
    """POST sites/:id/call/delayed: `delayed` goes out in ISO 8601, with its UTC offset."""

    delayed: AwareDatetime

    def params(self) -> dict[str, Any]:
        return {**super().params(), "delayed": self.delayed.isoformat()}


class IdsFilter(Params):
    """`ids[]`: when given, the vendor ignores every other filter."""

    ids: list[int] = []


class WidgetsFilter(Params):
    sites_ids: list[int] = []


class ContributorCallsFilter(Params):
    """Periods are DATETIME in the profile's time zone, hence naive."""

    start_at: NaiveDatetime | None = None
    end_at: NaiveDatetime | None = None
    ids: list[int] = []
    status_ids: list[int] = []
    sites_ids: list[int] = []

    def params(self) -> dict[str, Any]:
        params = super().params()
        for name in ("start_at", "end_at"):
            if name in params:
                params[name] = datetime_param(params[name])
        return params


class CallsFilter(ContributorCallsFilter):
    client: str | None = Field(default=None, description="the client's number")
    manager: str | None = Field(default=None, description="the manager's number")


class ProfileUpdate(Params):
    """The doc requires all three; the client fills api_key from its own credentials by default."""

    timezone: str = Field(min_length=1, description="IANA name, e.g. Europe/Moscow")
    api_enable: bool
    api_key: SecretStr

    def params(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "api_enable": self.api_enable, "api_key": self.api_key.get_secret_value()}


class PaymentSource(IntEnum):
    """`type`: which balance the money leaves (the doc's default is 1)."""

    MAIN = 1
    PARTNER = 2


class Payment(Params):
    type: PaymentSource = PaymentSource.MAIN
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)

    def params(self) -> dict[str, Any]:
        return {"type": int(self.type), "amount": self.amount}


class NewContributor(Params):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    password: Password

    def params(self) -> dict[str, Any]:
        return {"email": self.email, "password": self.password.get_secret_value()}


class NewContributorWithSite(NewContributor):
    config: SiteConfig

    def params(self) -> dict[str, Any]:
        return {**super().params(), **self.config.params()}
