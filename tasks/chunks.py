"""Send a chunk of job rows one request each, through the ledger and the account's limiter.

Vendor-agnostic: a vendor's chunk task supplies `send(row)`; this module decides what a
failure means for the row. Rows are never sent once the ledger holds an outcome for them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from vendors.errors import PermanentVendorError, RateLimited, TransientVendorError, VendorError, VendorTimeout

from tasks.backoff import backoff_s
from tasks.runtime import Ledger, Limiter, RetryPolicy

#: 429s one row may meet in a task before it is deferred; they cost no attempt.
MAX_THROTTLES_PER_ROW = 10


@dataclass(frozen=True, slots=True)
class JobRow:
    """One row of a job: its line, its fields by name, and its form in the chunk message."""

    line: int
    fields: dict
    wire: list


@dataclass
class ChunkOutcome:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    #: rows still pending after this run's attempts, with the last error they met
    deferred: list[JobRow] = field(default_factory=list)
    last_error: str = ""
    #: rows not attempted because the job was paused (or cancelled) meanwhile
    stopped: list[JobRow] = field(default_factory=list)
    stop_reason: str = ""


class ChunkRunner:
    def __init__(self, *, ledger: Ledger, limiter: Limiter, retry: RetryPolicy, lease_s: float,
                 send: Callable[[JobRow], object], sleep: Callable[[float], None] = time.sleep) -> None:
        self._ledger = ledger
        self._limiter = limiter
        self._retry = retry
        self._lease_s = lease_s
        self._send = send
        self._sleep = sleep

    def run(self, rows: list[JobRow]) -> ChunkOutcome:
        outcome = ChunkOutcome()
        busy: list[JobRow] = []
        # A redelivered or retried chunk skips finished rows without spending limiter slots.
        finished = self._ledger.finished_lines([row.line for row in rows])
        outcome.skipped = len(finished)
        rows = [row for row in rows if row.line not in finished]
        for index, row in enumerate(rows):
            verdict = self._row(row, outcome)
            if verdict == "busy":
                busy.append(row)
            elif verdict in ("paused", "cancelled"):
                outcome.stopped = rows[index:]
                outcome.stop_reason = verdict
                return outcome
        self._wait_for_busy(busy, outcome)
        return outcome

    def _wait_for_busy(self, busy: list[JobRow], outcome: ChunkOutcome) -> None:
        """Rows another worker holds: wait out one lease, then take over the ones still held by
        a dead worker. Rows a live worker keeps holding are left to it: its message is unacked."""
        if not busy:
            return
        self._sleep(self._lease_s)
        for row in busy:
            if self._row(row, outcome) in ("paused", "cancelled"):
                outcome.stopped.append(row)

    def _row(self, row: JobRow, outcome: ChunkOutcome) -> str:
        """Try one row up to the in-task attempt budget; return what became of it."""
        attempts = throttles = 0
        while attempts < self._retry.in_task_attempts:
            if not self._limiter.acquire():
                outcome.deferred.append(row)
                return "deferred"
            claim = self._ledger.claim(row.line)
            if not claim.may_send:
                if claim.value == "done":
                    outcome.skipped += 1
                return claim.value
            try:
                self._send(row)
            except RateLimited as exc:
                self._ledger.release(row.line, unknown_outcome=False)
                self._limiter.penalize(exc.retry_after_s or 1.0)
                throttles += 1
                if throttles <= MAX_THROTTLES_PER_ROW:
                    continue  # the limiter now makes us wait as the vendor asked
                return self._defer(row, exc, outcome)
            except PermanentVendorError as exc:
                self._ledger.failed(row.line, row.fields, reason=_reason(exc), wire=row.wire)
                outcome.failed += 1
                return "failed"
            except TransientVendorError as exc:
                self._ledger.release(row.line, unknown_outcome=isinstance(exc, VendorTimeout))
                attempts += 1
                if attempts >= self._retry.in_task_attempts:
                    return self._defer(row, exc, outcome)
                self._sleep(backoff_s(attempts - 1, base_s=self._retry.in_task_backoff_s, max_s=2.0))
                continue
            self._ledger.delivered(row.line)
            outcome.delivered += 1
            return "delivered"
        return self._defer(row, None, outcome)

    @staticmethod
    def _defer(row: JobRow, exc: VendorError | None, outcome: ChunkOutcome) -> str:
        outcome.deferred.append(row)
        if exc is not None:
            outcome.last_error = _reason(exc)
        return "deferred"


def _reason(exc: VendorError) -> str:
    """What the operator reads in the report: the vendor's words, status included."""
    return str(exc)[:500]
