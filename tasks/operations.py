"""Declare a vendor operation as a Celery task in a few lines, and list them all.

    add_row = operation("ringostat.campaign_rows.add", CampaignRowPayload,
                        lambda client, p: client.add_campaign_row(p.campaign_id, p.phone_number, p.fio))

The task validates its payload with the model (an invalid payload fails at once, never
retried), takes a slot from the account's limiter, calls the client and returns the
reply as JSON-ready data. `OPERATIONS` is the public contract other apps enqueue against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from celery import shared_task
from pydantic import BaseModel, ConfigDict

from tasks.base import VendorTask
from tasks.runtime import current


class OperationPayload(BaseModel):
    """Base of every single-operation payload: `account` names the credentials, never carries them."""

    model_config = ConfigDict(extra="forbid")

    account: str = "default"


@dataclass(frozen=True)
class Operation:
    name: str
    vendor: str
    payload: type[BaseModel]
    doc: str


OPERATIONS: dict[str, Operation] = {}


def operation(name: str, payload: type[OperationPayload], call: Callable[[Any, Any], Any], *, doc: str = ""):
    """Register `<vendor>.<resource>.<action>` as a task calling `call(client, payload)`."""
    vendor = name.split(".", 1)[0]

    def run(self: VendorTask, **kwargs: Any) -> Any:
        parsed = self.parse(payload, kwargs)
        client = current().client(vendor, parsed.account)
        return jsonable(self.call_vendor(vendor, parsed.account, lambda: call(client, parsed)))

    run.__name__ = run.__qualname__ = name.replace(".", "_")
    run.__doc__ = doc or payload.__doc__
    OPERATIONS[name] = Operation(name, vendor, payload, (doc or payload.__doc__ or "").strip())
    return shared_task(bind=True, base=VendorTask, name=name)(run)


def jsonable(value: Any) -> Any:
    """Replies are pydantic models, lists of them, or plain JSON: results must be plain JSON."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    return value
