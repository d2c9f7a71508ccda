"""What Pozvonim answers, typed where the meaning is known, open to fields we do not use.

The doc fixes the formats, not the shapes: times are DATETIME strings in the profile's time
zone ("2015-10-02 17:58:43", kept naive here and written back the same way), booleans are
true/false. Unknown fields are kept (extra="allow") so a task result shows all the vendor said.
A 2xx reply of another shape is returned as the vendor's JSON (vendors/surprises.py): the
vendor did what it was asked, and a failure here would invite a duplicate send.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

from vendors.surprises import unexpected

from .errors import VENDOR
from .params import DATETIME_FORMAT

#: the doc's DATETIME, parsed to a naive datetime and serialised back in the same format
DateTime = Annotated[datetime, PlainSerializer(lambda value: value.strftime(DATETIME_FORMAT), return_type=str)]
#: money: the doc shows no format; JSON numbers (as the sandbox answers) or strings both parse
Money = Annotated[Decimal, PlainSerializer(float, return_type=float)]


class Reply(BaseModel):
    model_config = ConfigDict(extra="allow")


class ServerTime(Reply):
    time: DateTime
    timezone: str | None = None
    timestamp: int | None = None


class Site(Reply):
    id: int
    url: str
    contributor_id: int | None = None
    widget_id: int | None = None
    created_at: DateTime | None = None
    updated_at: DateTime | None = None
    site: dict[str, Any] = {}
    managers: list[dict[str, Any]] = []
    widget: dict[str, Any] = {}
    blacklists: dict[str, Any] = {}


class WidgetSettings(Reply):
    id: int
    site_id: int
    settings: dict[str, Any] = {}


class Call(Reply):
    id: int
    site_id: int
    status_id: int
    status: str | None = None
    phone: str
    manager: str | None = None
    region: int | None = None
    contributor_id: int | None = None
    created_at: DateTime | None = None
    delayed_at: DateTime | None = None


class Profile(Reply):
    id: int
    email: str | None = None
    timezone: str
    api_enable: bool
    balance: Money | None = None
    partner_balance: Money | None = None


class PaymentDone(Reply):
    id: int
    contributor_id: int
    type: int
    amount: Money
    created_at: DateTime | None = None
    balance: Money | None = None


class Contributor(Reply):
    id: int
    email: str
    created_at: DateTime | None = None
    balance: Money | None = None
    sites_count: int | None = None
    sites: list[Site] | None = Field(default=None, description="only in contributors/:id (extended information)")


class ContributorWithSite(Reply):
    contributor: Contributor
    site: Site


class Deleted(Reply):
    """DELETE answers 204 with no body; this records what was deleted."""

    id: int
    deleted: bool = True


R = TypeVar("R", bound=BaseModel)


def one(model: type[R], body: Any) -> R | Any:
    """A JSON object as `model`; any other shape is the vendor's JSON as sent (and a reported surprise)."""
    if not isinstance(body, dict):
        return unexpected(VENDOR, model.__name__, f"expected a JSON object, got {type(body).__name__}", body)
    return _validate(TypeAdapter(model), body, model.__name__)


def many(model: type[R], body: Any) -> list[R] | Any:
    if not isinstance(body, list):
        return unexpected(VENDOR, f"list of {model.__name__}", f"expected a JSON list, got {type(body).__name__}",
                          body)
    return _validate(TypeAdapter(list[model]), body, f"list of {model.__name__}")


def _validate(adapter: TypeAdapter, body: Any, what: str) -> Any:
    try:
        return adapter.validate_python(body)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        return unexpected(VENDOR, what, f"{first['loc']} {first['msg']}", body)
