"""Non-idempotent single operations: one send per task id, reconciled after an unknown outcome.

A call that rings a person, a money transfer or a create must not be sent again just because
its answer was lost. For those operations (`idempotent=False`) every run goes through a small
per-task ledger (`Runtime.once()`, Redis, with a TTL). A run takes its limiter slot first, then:

    enter    new task id          -> "send": mark it sending (with a lease and this run's token)
             sent before          -> "sent": return the recorded result, send nothing
             sending, lease alive -> "busy": another run is sending it; look again later
             an older attempt     -> "stale": a duplicate of a message already handed on: drop it
             sending, lease lapsed, or outcome marked unknown -> "check"
             this run's token again (a replayed ENTER) -> its own decision again
    check    reconcile at the vendor (Reconcile.find, e.g. list contributors by email):
             found        -> success with what the vendor holds (nothing sent)
             proven absent-> "cleared", and a new run of this attempt (its own slot first) sends
             no lookup    -> OutcomeUnknownError: the task fails in its own, visible state
    send     renew the lease (only while this run still holds the task id), then send

The slot comes before the lease because the limiter may wait without bound; the lease
(Runtime.call_lease_s) is longer than the run's calls, which end within call_budget_s
(vendors.deadline.within); every write after enter names the run's token, so a run that
another copy took over from changes nothing. Together: two copies never both send.

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

from vendors import deadline
from vendors.errors import (
    OutcomeUnknown, PermanentVendorError, RateLimited, TransientVendorError, VendorServerError,
)

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
    lease_s, budget_s = runtime.call_lease_s(op.vendor), runtime.call_budget_s(op.vendor)
    limiter = runtime.limiter(op.vendor, payload.account)
    # The slot first: the limiter may wait without bound (a saturated account, a 429's penalty),
    # and a wait under the lease would let another copy take over and send too. A slot left
    # unused because the ledger answers busy, sent or stale is the price.
    limiter.acquire()
    entry = ledger.enter(task_id, attempt=attempt, lease_s=lease_s)
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
    run = _Run(task_id, attempt, entry.run)
    if entry.verdict == "check":
        with deadline.within(budget_s):  # the lookup ends before its lease does
            found = _check(task, op, client, payload, entry.sent_at_s, limiter, run)
        if found is not None:
            result = to_json(found)
            run.sent(result)
            runtime.count_once(op.name, "reconciled_applied")
            log.warning("%s[%s]: outcome was unknown; the vendor has it: not sent again", op.name, task_id)
            return result
        # Proven absent. This run's slot went to the lookup: the send is a new run of the same
        # attempt, which takes its slot before it enters (and a copy that took over meanwhile
        # makes this clear fail: then that copy decides).
        if ledger.clear(task_id, run.token, attempt=attempt):
            runtime.count_once(op.name, "reconciled_absent_resent")
            runtime.defer(task.name, dict(task.request.kwargs), delay_s=0.0, task_id=task_id, retries=attempt)
        raise Ignore()
    return _send(task, op, limiter, send, run, lease_s, budget_s)


def sent_before(task_id: str) -> Any:
    """The ledger's entry when this task id already sent (its result), else None; changes nothing."""
    return current().once().sent_entry(task_id)


@dataclass(frozen=True)
class _Run:
    """This run's hold on the task id: every write names its token (a compare-and-set)."""

    task_id: str
    attempt: int
    token: str

    def sent(self, result: Any) -> None:
        if not current().once().sent(self.task_id, self.token, result, attempt=self.attempt):
            log.warning("once[%s]: another run took over before this one recorded its result", self.task_id)

    def failed(self) -> None:
        current().once().failed(self.task_id, self.token, attempt=self.attempt)

    def unknown(self) -> None:
        current().once().unknown(self.task_id, self.token, attempt=self.attempt)

    def handoff(self, *, unknown: bool) -> None:
        current().once().handoff(self.task_id, self.token, attempt=self.attempt, next_attempt=self.attempt + 1,
                                 unknown=unknown)


def _send(task: VendorTask, op: Any, limiter: Any, send: Callable[[], Any], run: _Run, lease_s: float,
          budget_s: float) -> Any:
    runtime = current()
    # Still ours, with a whole lease from now: then nobody else can send before this call is over.
    if not runtime.once().renew(run.task_id, run.token, attempt=run.attempt, lease_s=lease_s):
        runtime.count_once(op.name, "duplicate_dropped")
        raise Ignore()
    try:
        with deadline.within(budget_s):  # every HTTP call of it ends before the lease does
            result = send()
    except RateLimited as exc:  # refused before anything was applied
        limiter.penalize(exc.retry_after_s or 1.0)
        _again(task, exc, run, applied="no", delay_s=exc.retry_after_s or 1.0)
    except UNKNOWN_OUTCOME as exc:
        if op.reconcile is None:
            raise _unknown(op, run, exc, "the vendor offers no lookup for it") from None
        _again(task, exc, run, applied="unknown")
    except TransientVendorError as exc:  # never reached the vendor (connection refused, token lock)
        _again(task, exc, run, applied="no")
    except PermanentVendorError as exc:
        run.failed()
        raise flat(exc) from None
    run.sent(result)
    runtime.count_once(op.name, "sent")
    return result


def _check(task: VendorTask, op: Any, client: Any, payload: Any, sent_at_s: float, limiter: Any, run: _Run) -> Any:
    if op.reconcile is None:
        raise _unknown(op, run, None, "the vendor offers no lookup for it")
    try:
        return op.reconcile.find(client, payload, sent_at_s)
    except CannotReconcile as exc:
        raise _unknown(op, run, None, str(exc)) from None
    except RateLimited as exc:
        limiter.penalize(exc.retry_after_s or 1.0)
        _again(task, exc, run, applied="unknown", delay_s=exc.retry_after_s or 1.0)
    except TransientVendorError as exc:
        _again(task, exc, run, applied="unknown")
    except PermanentVendorError as exc:
        raise _unknown(op, run, exc, f"the lookup ({op.reconcile.how}) was refused") from None


def _again(task: VendorTask, exc: Exception, run: _Run, *, applied: str, delay_s: float | None = None) -> None:
    """Retry through the deferred set, then hand the task id on to that attempt (in this order)."""
    runtime, request = current(), task.request
    op_name = task.name
    policy = runtime.retry
    if not policy.may_retry(request.retries):
        if applied == "unknown":
            raise _unknown_named(op_name, run, exc, "retries exhausted") from None
        run.failed()
        raise flat(exc) from None
    if delay_s is None:
        delay_s = policy.round_delay_s(request.retries)
    runtime.defer(task.name, dict(request.kwargs), delay_s=delay_s, task_id=request.id, retries=request.retries + 1)
    run.handoff(unknown=applied == "unknown")
    task.backend.mark_as_retry(request.id, flat(exc), request=request)
    raise Ignore()


def _unknown(op: Any, run: _Run, exc: Exception | None, why: str) -> OutcomeUnknownError:
    return _unknown_named(op.name, run, exc, why)


def _unknown_named(name: str, run: _Run, exc: Exception | None, why: str) -> OutcomeUnknownError:
    runtime = current()
    run.unknown()
    runtime.count_once(name, "outcome_unknown")
    cause = f" after {exc}" if exc is not None else ""
    return OutcomeUnknownError(f"{name}: outcome unknown{cause}; not sent again ({why}): "
                               f"check at the vendor before sending it again")


__all__ = ["CannotReconcile", "OutcomeUnknownError", "Reconcile", "run_once", "sent_before"]
