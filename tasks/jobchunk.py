"""The one way a job's chunk task runs, whatever the vendor: payload base, runner, follow-up."""

from __future__ import annotations

import logging
from typing import Any, Callable

from celery.exceptions import Reject
from pydantic import BaseModel, ConfigDict, Field

from tasks.backoff import backoff_s
from tasks.chunks import OUT_OF_TIME, Budget, ChunkOutcome, ChunkRunner, JobRow
from tasks.runtime import current

log = logging.getLogger(__name__)


class ChunkPayload(BaseModel):
    """What every chunk message carries; a job kind adds its own target (campaign, base, ...)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str
    account: str = "default"
    #: each row as [line, ...fields]: compact, since a 1M-row job sits in the broker as these
    rows: list[list]
    #: how many rounds of deferred retries these rows have been through
    attempt: int = Field(default=0, ge=0)


def run_chunk(task_name: str, vendor: str, payload: ChunkPayload, *,
              to_row: Callable[[list], JobRow], send: Callable[[JobRow], Any]) -> dict[str, int]:
    runtime = current()
    runner = ChunkRunner(
        ledger=runtime.ledger(payload.job_id), limiter=runtime.limiter(vendor, payload.account),
        retry=runtime.retry, lease_s=runtime.row_lease_s, send=send, budget=Budget(runtime.chunk_time_budget_s),
    )
    return guarded(task_name, payload, lambda: runner.run([to_row(wire) for wire in payload.rows]), to_row)


def guarded(task_name: str, payload: ChunkPayload, run: Callable[[], ChunkOutcome],
            to_row: Callable[[list], JobRow]) -> dict[str, int]:
    """Run a chunk and its follow-up; an unexpected error (Redis down, a bug) must not strand
    its rows: Celery acks a failed message, so the chunk goes to the deferred set again (the
    ledger skips rows already done) or, when even that fails, back to the broker."""
    try:
        outcome = run()
        follow_up(task_name, payload, outcome)
    except Exception as exc:
        log.exception("chunk of job %s failed unexpectedly; retrying its rows later", payload.job_id)
        try:
            _retry_whole(task_name, payload, to_row, f"internal error: {type(exc).__name__}: {exc}"[:500])
        except Exception:
            raise Reject(exc, requeue=True) from exc
        return {"error": 1}
    return {"delivered": outcome.delivered, "failed": outcome.failed, "skipped": outcome.skipped,
            "deferred": len(outcome.deferred)}


def _retry_whole(task_name: str, payload: ChunkPayload, to_row, reason: str) -> None:
    rows = [to_row(wire) for wire in payload.rows]
    follow_up(task_name, payload, ChunkOutcome(deferred=rows, last_error=reason))


def follow_up(task_name: str, payload: ChunkPayload, outcome: ChunkOutcome) -> None:
    """Park rows of a paused job, end rows of a cancelled one, hand on the rows of a chunk out
    of time; defer rows still pending, or fail them once the rounds of retries run out."""
    runtime = current()
    ledger = runtime.ledger(payload.job_id)
    if outcome.stop_reason == OUT_OF_TIME:
        # Published before this message is acked: a crash in between makes a second copy, whose
        # rows the ledger skips once done. Same round of retries: running out of time is no failure.
        runtime.hand_on(task_name, _with_rows(payload, outcome.stopped, payload.attempt))
        log.info("chunk of job %s out of its %.0f s budget: %d rows handed on to a new chunk",
                 payload.job_id, runtime.chunk_time_budget_s, len(outcome.stopped))
    elif outcome.stop_reason == "paused":
        runtime.park(payload.job_id, task_name, _with_rows(payload, outcome.stopped, payload.attempt))
    elif outcome.stop_reason == "gone":
        return  # the job's keys expired: nobody is waiting for these rows
    elif outcome.stop_reason == "cancelled":
        for row in outcome.stopped:
            ledger.failed(row.line, row.fields, reason="job cancelled", outcome="cancelled", wire=row.wire,
                          unclaimed_only=True)
    if not outcome.deferred:
        return
    policy = runtime.retry
    if payload.attempt >= policy.max_task_retries:
        reason = f"gave up after {payload.attempt + 1} rounds of retries: {outcome.last_error or 'no limiter slot'}"
        for row in outcome.deferred:
            ledger.failed(row.line, row.fields, reason=reason, wire=row.wire, unclaimed_only=True)
        return
    delay_s = backoff_s(payload.attempt, base_s=policy.backoff_base_s, max_s=policy.backoff_max_s)
    runtime.defer(task_name, _with_rows(payload, outcome.deferred, payload.attempt + 1), delay_s=delay_s)


def _with_rows(payload: ChunkPayload, rows: list[JobRow], attempt: int) -> dict[str, Any]:
    return {**payload.model_dump(), "rows": [row.wire for row in rows], "attempt": attempt}
