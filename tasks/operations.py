"""Declare a vendor operation as a Celery task in a few lines, and list them all.

    add_row = operation("ringostat.campaign_rows.add", CampaignRowPayload,
                        lambda client, p: client.add_campaign_row(p.campaign_id, p.phone_number, p.fio),
                        idempotent=False)

The task validates its payload with the model (an invalid payload fails at once, never
retried), takes a slot from the account's limiter, calls the client and returns the
reply as JSON-ready data. `OPERATIONS` is the public contract other apps enqueue against.

Every operation declares whether it is safe to repeat. `idempotent=True` (reads, updates
that set values, deletes) retries every transient failure. `idempotent=False` (a call that
rings a person, a transfer, a create) is never sent twice blindly: see tasks/once.py; its
`reconcile` looks the effect up at the vendor after an unknown outcome, where the API allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from celery import shared_task
from pydantic import BaseModel, ConfigDict

from tasks.base import VendorTask
from tasks.once import Reconcile, run_once, sent_before
from tasks.runtime import current
from tasks.secretrefs import resolve_secrets


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
    #: safe to send again after an unknown outcome (reads, set-value updates, deletes)
    idempotent: bool = True
    #: how a non-idempotent operation's effect is looked up after an unknown outcome (None: it cannot be)
    reconcile: Reconcile | None = None
    #: payload fields that are secrets: they travel by reference (tasks/secretrefs.py)
    secrets: tuple[str, ...] = ()

    @property
    def repeat(self) -> str:
        """The README's words for what happens after an unknown outcome."""
        if self.idempotent:
            return "safe: retried"
        if self.reconcile is None:
            return "no: ends as OutcomeUnknownError"
        return f"no: reconciled by {self.reconcile.how}"


OPERATIONS: dict[str, Operation] = {}


def operation(name: str, payload: type[OperationPayload], call: Callable[[Any, Any], Any], *, idempotent: bool,
              reconcile: Reconcile | None = None, secrets: tuple[str, ...] = (), doc: str = ""):
    """Register `<vendor>.<resource>.<action>` as a task calling `call(client, payload)`."""
    vendor = name.split(".", 1)[0]
    if idempotent and reconcile is not None:
        raise ValueError(f"{name}: only a non-idempotent operation needs a reconcile")
    op = Operation(name, vendor, payload, (doc or payload.__doc__ or "").strip(), idempotent, reconcile, secrets)

    def run(self: VendorTask, **kwargs: Any) -> Any:
        if op.secrets and (done := sent_before(self.request.id)) is not None:
            return done.result  # redelivered after success: its secret is already deleted
        with resolve_secrets(op.name, op.secrets, kwargs) as resolved:
            parsed = self.parse(payload, resolved)
            client = current().client(vendor, parsed.account)
            if op.idempotent:
                return jsonable(self.call_vendor(vendor, parsed.account, lambda: call(client, parsed)))
            return run_once(self, op, client, parsed, lambda: jsonable(call(client, parsed)), jsonable)

    run.__name__ = run.__qualname__ = name.replace(".", "_")
    run.__doc__ = doc or payload.__doc__
    OPERATIONS[name] = op
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
