"""The one way a job's chunk task runs, whatever the vendor: payload base, runner, follow-up.

No chunk's rows vanish: a row the runner cannot read (a short row, a line that is no row
of the job) is failed into the report or, without a usable line, kept as a dead letter; a
chunk that fails before its runner (a payload this worker cannot read, an account it does
not know: see ChunkTask) is retried in rounds like deferred rows, then failed into the report.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from celery.exceptions import Ignore, Reject, Retry
from pydantic import BaseModel, ConfigDict, Field

from tasks.base import VendorTask
from tasks.chunk_runner import OUT_OF_TIME, Budget, ChunkOutcome, ChunkRunner, JobRow
from tasks.key_trust import key_trust
from tasks.runtime import Ledger, Limiter, current

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

    @classmethod
    def for_job(cls, job_id: str, params: dict, rows: list[list]) -> dict:
        """The kwargs of a chunk message of job `job_id` as the producer and retry-failed send
        it (no `attempt`: its first round). `params` (the account and the kind's target, named
        as this model's fields) are checked here, so an unknown or renamed param, or a missing
        required one, fails in the producer, not in a worker. `rows` are already in their wire
        form (the kind's row codec) and go as they are: checking each twice would double a
        load's cost."""
        head = cls.model_validate({"job_id": job_id, **params, "rows": []})
        return {**head.model_dump(exclude={"rows", "attempt"}), "rows": rows}


def run_chunk(task_name: str, vendor: str, payload: ChunkPayload, *, to_row: Callable[[list], JobRow],
              send: Callable[[JobRow], Any] | None = None, send_batch: Callable[[list[JobRow]], Any] | None = None,
              batch_size: int = 1, limiter: Limiter | None = None, slots_per_send: int = 1) -> dict[str, int]:
    """Run a chunk through the one ChunkRunner: row by row with `send(row)`, or in batches of
    `batch_size` with `send_batch(rows)`. `slots_per_send`: requests one send makes; their
    limiter slots are all reserved before its rows are claimed (pass the `limiter` the send
    takes them from). Up to the runtime's rows_in_flight rows are sent at once, each send in
    a sender thread: a send gets its vendor client there (`current().client(...)`, one per
    thread), never one made in the task's own thread."""
    runtime = current()
    runner = ChunkRunner(
        ledger=runtime.ledger(payload.job_id), limiter=limiter or runtime.limiter(vendor, payload.account),
        retry=runtime.retry, lease_s=runtime.row_lease_s, send=send, send_batch=send_batch, batch_size=batch_size,
        slots_per_send=slots_per_send, send_budget_s=runtime.send_budget_s,
        budget=Budget(runtime.chunk_time_budget_s), in_flight=max(1, runtime.rows_in_flight // batch_size),
        key=key_trust(vendor, payload.account), warm=lambda: runtime.client(vendor, payload.account),
    )
    return guarded(task_name, payload, runner.run, to_row)


def guarded(task_name: str, payload: ChunkPayload, run: Callable[[list[JobRow]], ChunkOutcome],
            to_row: Callable[[list], JobRow]) -> dict[str, int]:
    """Run a chunk's readable rows and its follow-up; an unexpected error (Redis down, a bug)
    must not strand its rows: Celery acks a failed message, so the chunk goes to the deferred
    set again (the ledger skips rows already done, and after max_task_retries rounds the rows
    fail into the report) or, when even that fails (Redis unreachable), back to the broker."""
    rows: list[JobRow] | None = None
    try:
        rows = screened(task_name, payload, to_row, current().ledger(payload.job_id))
        outcome = run(rows)
        follow_up(task_name, payload, outcome)
    except Exception as exc:
        log.exception("chunk of job %s failed unexpectedly; retrying its rows later", payload.job_id)
        try:
            if rows is None:  # not even screened (only Redis calls can fail there)
                raise
            follow_up(task_name, payload, ChunkOutcome(
                deferred=rows, last_error=f"internal error: {type(exc).__name__}: {exc}"[:500]))
        except Exception:
            raise Reject(exc, requeue=True) from exc
        return {"error": 1}
    return {"delivered": outcome.delivered, "failed": outcome.failed, "skipped": outcome.skipped,
            "deferred": len(outcome.deferred)}


def screened(task_name: str, payload: ChunkPayload, to_row: Callable[[list], JobRow], ledger: Ledger) -> list[JobRow]:
    """The chunk's rows the runner can send. A poison row never reaches the ledger's bitmap:
    one whose line is a row of the job but which cannot be read is failed into the report
    with why; one without such a line is kept as a dead letter (see Runtime.dead_letter)."""
    limit = ledger.line_limit()
    if limit is None:
        return []  # the job's keys expired: the runner stops as 'gone'
    rows: list[JobRow] = []
    seen: set[int] = set()
    for wire in payload.rows:
        line = _line_of(wire, limit)
        if line is None:
            current().dead_letter(task_name, {"job_id": payload.job_id, "row": wire},
                                  f"row without a line of job {payload.job_id} (1..{limit})")
            continue
        if line in seen:
            log.warning("chunk of job %s names line %s twice; sending it once", payload.job_id, line)
            continue
        seen.add(line)
        try:
            rows.append(to_row(wire))
        except Exception as exc:
            ledger.failed(line, {}, reason=f"malformed row in the chunk: {type(exc).__name__}: {exc}"[:500],
                          wire=wire, unclaimed_only=True)
    return rows


def _line_of(wire: Any, limit: int) -> int | None:
    line = wire[0] if isinstance(wire, (list, tuple)) and wire else None
    if isinstance(line, int) and not isinstance(line, bool) and 1 <= line <= limit:
        return line
    return None


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
    if not policy.may_retry(payload.attempt):
        reason = f"gave up after {payload.attempt + 1} rounds of retries: {outcome.last_error or 'no limiter slot'}"
        for row in outcome.deferred:
            ledger.failed(row.line, row.fields, reason=reason, wire=row.wire, unclaimed_only=True)
        return
    runtime.defer(task_name, _with_rows(payload, outcome.deferred, payload.attempt + 1),
                  delay_s=policy.round_delay_s(payload.attempt))


def _with_rows(payload: ChunkPayload, rows: list[JobRow], attempt: int) -> dict[str, Any]:
    return {**payload.model_dump(), "rows": [row.wire for row in rows], "attempt": attempt}


class ChunkTask(VendorTask):
    """Base of job chunk tasks: a chunk that fails before its runner's guard (a payload this
    worker cannot read, e.g. a field a newer producer added; an account it does not know)
    would be acked and its rows lost. Instead it is deferred whole, as it came, for
    max_task_retries rounds (a newer worker or the missing account may take it), then its
    rows fail into the report with the reason. A payload without a readable job id is a
    dead letter: logged, counted and kept (see Runtime.dead_letter)."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except (Ignore, Reject, Retry):
            raise
        except Exception as exc:
            try:
                unrunnable(self.name, kwargs, f"{type(exc).__name__}: {exc}"[:500])
            except Exception:
                raise Reject(exc, requeue=True) from exc  # Redis unreachable: the broker keeps the chunk
            return {"unrunnable": 1}


def unrunnable(task_name: str, kwargs: dict, error: str) -> None:
    """Retry a chunk this worker cannot run in rounds, then fail its rows with `error`; a
    paused job's is parked, a cancelled job's rows end as cancelled."""
    runtime = current()
    job_id = kwargs.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        runtime.dead_letter(task_name, kwargs, f"chunk without a job id: {error}")
        return
    ledger = runtime.ledger(job_id)
    limit = ledger.line_limit()
    if limit is None:
        log.warning("chunk of job %s (gone) could not run: %s", job_id, error)
        return
    state = ledger.job_state()
    if state == "paused" and runtime.park(job_id, task_name, kwargs):
        return  # set aside like any chunk of a paused job; resume publishes it as it came
    attempt = kwargs.get("attempt", 0)
    policy = runtime.retry
    if state != "cancelled" and isinstance(attempt, int) and 0 <= attempt and policy.may_retry(attempt):
        log.error("chunk of job %s could not run (%s); retrying it in a later round", job_id, error)
        runtime.defer(task_name, {**kwargs, "attempt": attempt + 1}, delay_s=policy.round_delay_s(attempt))
        return
    log.error("chunk of job %s could not run (%s); failing its rows into the report", job_id, error)
    rows = kwargs.get("rows")
    for wire in rows if isinstance(rows, list) else []:
        line = _line_of(wire, limit)
        if line is None:
            runtime.dead_letter(task_name, {"job_id": job_id, "row": wire}, f"row without a line of job {job_id}")
        elif state == "cancelled":
            ledger.failed(line, {}, reason="job cancelled", outcome="cancelled", wire=list(wire), unclaimed_only=True)
        else:
            ledger.failed(line, {}, reason=f"this worker could not run the chunk: {error}", wire=list(wire),
                          unclaimed_only=True)
