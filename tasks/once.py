"""Non-idempotent single operations: one send per task id, reconciled after an unknown outcome.

A call that rings a person, a money transfer or a create must not be sent again just because
its answer was lost. For those operations (`idempotent=False`) every run goes through a small
per-task ledger (`Runtime.once()`, Redis, with a TTL):

    enter    new task id          -> "send": mark it sending (with a lease), then send
             sent before          -> "sent": return the recorded result, send nothing
             sending, lease alive -> "busy": another run is sending it; look again later
             an older attempt     -> "stale": a duplicate of a message already handed on: drop it
             sending, lease lapsed, or outcome marked unknown -> "check"
    check    reconcile at the vendor (Reconcile.find, e.g. list contributors by email):
             found        -> success with what the vendor holds (nothing sent)
             proven absent-> send again
             no lookup    -> OutcomeUnknownError: the task fails in its own, visible state

After a send: success or a permanent refusal is final. A failure that proves nothing was
applied (connection refused, 429) retries as usual. An unknown outcome (timeout, connection
lost after sending, 5xx) is reconciled on the next attempt, or ends as OutcomeUnknownError at
once when the operation has no lookup. A worker lost mid-call leaves "sending" behind: the
redelivered message waits out the lease, then checks.

A retry is written to the deferred set before the ledger hands the task id on to the next
attempt, so a crash in between leaves a copy that either runs or is refused as stale: never
two sends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from celery.exceptions import Ignore

from vendors.errors import (
    OutcomeUnknown, PermanentVendorError, RateLimited, TransientVendorError, VendorServerError,
)

from tasks.backoff import backoff_s
from tasks.base import VendorTask, flat
from tasks.runtime import current

log = logging.getLogger(__name__)

#: failures after which the vendor may have applied the request
UNKNOWN_OUTCOME = (OutcomeUnknown, VendorServerError)


class OutcomeUnknownError(Exception):
    """Sent, the answer lost, and the vendor could not be asked whether it was applied.

    The operation was not repeated: a human must check at the vendor before sending it again.
    """


class CannotReconcile(Exception):
    """This payload gives nothing to look the effect up by (e.g. a contact without external code)."""


@dataclass(frozen=True)
class Reconcile:
    #: README words: "listing contributors by email"
    how: str
    #: (client, payload, first send time as unix s) -> what the vendor holds, or None when proven absent;
    #: raises CannotReconcile when this payload cannot be looked up
    find: Callable[[Any, Any, float], Any]


def run_once(task: VendorTask, op: Any, client: Any, payload: Any, send: Callable[[], Any],
             to_json: Callable[[Any], Any]) -> Any:
    runtime = current()
    ledger = runtime.once()
    task_id, attempt = task.request.id, task.request.retries
    entry = ledger.enter(task_id, attempt=attempt, lease_s=runtime.call_lease_s(op.vendor))
    if entry.verdict == "sent":
        runtime.count_once(op.name, "redelivered_after_send")
        return entry.result
    if entry.verdict == "stale":
        runtime.count_once(op.name, "duplicate_dropped")
        raise Ignore()
    if entry.verdict == "busy":
        # Another run holds the lease: look again when it lapses (same attempt, not a retry).
        runtime.defer(task.name, dict(task.request.kwargs), delay_s=entry.wait_s + 0.5, task_id=task_id,
                      retries=attempt)
        raise Ignore()
    limiter = runtime.limiter(op.vendor, payload.account)
    if entry.verdict == "check":
        found = _check(task, op, client, payload, entry.sent_at_s, limiter)
        if found is not None:
            result = to_json(found)
            ledger.sent(task_id, result)
            runtime.count_once(op.name, "reconciled_applied")
            log.warning("%s[%s]: outcome was unknown; the vendor has it: not sent again", op.name, task_id)
            return result
        ledger.resend(task_id, lease_s=runtime.call_lease_s(op.vendor))
        runtime.count_once(op.name, "reconciled_absent_resent")
    return _send(task, op, limiter, send)


def sent_before(task_id: str) -> Any:
    """The ledger's entry when this task id already sent (its result), else None; changes nothing."""
    return current().once().sent_entry(task_id)


def _send(task: VendorTask, op: Any, limiter: Any, send: Callable[[], Any]) -> Any:
    runtime, task_id = current(), task.request.id
    ledger = runtime.once()
    limiter.acquire()
    try:
        result = send()
    except RateLimited as exc:  # refused before anything was applied
        limiter.penalize(exc.retry_after_s or 1.0)
        _again(task, exc, applied="no", delay_s=exc.retry_after_s or 1.0)
    except UNKNOWN_OUTCOME as exc:
        if op.reconcile is None:
            raise _unknown(op, task_id, exc, "the vendor offers no lookup for it") from None
        _again(task, exc, applied="unknown")
    except TransientVendorError as exc:  # never reached the vendor (connection refused, token lock)
        _again(task, exc, applied="no")
    except PermanentVendorError as exc:
        ledger.failed(task_id)
        raise flat(exc) from None
    ledger.sent(task_id, result)
    runtime.count_once(op.name, "sent")
    return result


def _check(task: VendorTask, op: Any, client: Any, payload: Any, sent_at_s: float, limiter: Any) -> Any:
    if op.reconcile is None:
        raise _unknown(op, task.request.id, None, "the vendor offers no lookup for it")
    limiter.acquire()
    try:
        return op.reconcile.find(client, payload, sent_at_s)
    except CannotReconcile as exc:
        raise _unknown(op, task.request.id, None, str(exc)) from None
    except RateLimited as exc:
        limiter.penalize(exc.retry_after_s or 1.0)
        _again(task, exc, applied="unknown", delay_s=exc.retry_after_s or 1.0)
    except TransientVendorError as exc:
        _again(task, exc, applied="unknown")
    except PermanentVendorError as exc:
        raise _unknown(op, task.request.id, exc, f"the lookup ({op.reconcile.how}) was refused") from None


def _again(task: VendorTask, exc: Exception, *, applied: str, delay_s: float | None = None) -> None:
    """Retry through the deferred set, then hand the task id on to that attempt (in this order)."""
    runtime, request = current(), task.request
    op_name = task.name
    if request.retries >= task.max_retries:
        if applied == "unknown":
            raise _unknown_named(op_name, request.id, exc, "retries exhausted") from None
        runtime.once().failed(request.id)
        raise flat(exc) from None
    if delay_s is None:
        delay_s = backoff_s(request.retries, base_s=task.backoff_base_s, max_s=task.backoff_max_s)
    runtime.defer(task.name, dict(request.kwargs), delay_s=delay_s, task_id=request.id, retries=request.retries + 1)
    runtime.once().handoff(request.id, attempt=request.retries + 1, unknown=applied == "unknown")
    task.backend.mark_as_retry(request.id, flat(exc), request=request)
    raise Ignore()


def _unknown(op: Any, task_id: str, exc: Exception | None, why: str) -> OutcomeUnknownError:
    return _unknown_named(op.name, task_id, exc, why)


def _unknown_named(name: str, task_id: str, exc: Exception | None, why: str) -> OutcomeUnknownError:
    runtime = current()
    runtime.once().unknown(task_id)
    runtime.count_once(name, "outcome_unknown")
    cause = f" after {exc}" if exc is not None else ""
    return OutcomeUnknownError(f"{name}: outcome unknown{cause}; not sent again ({why}): "
                               f"check at the vendor before sending it again")


__all__ = ["CannotReconcile", "OutcomeUnknownError", "Reconcile", "run_once", "sent_before"]
