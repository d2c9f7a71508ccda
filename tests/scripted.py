"""Runner tests' vendor: a job in a real ledger and limiter, and a vendor that answers from a script.

    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, ROWS, limiter_name="x")
    vendor = ScriptedVendor({phone: [err(errors.VendorServerError, 503)]})   # per row
    vendor = ScriptedBatches(err(errors.RateLimited, 429), None)            # per request
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.chunk_runner import JobRow
from workers.jobs import JobStore
from workers.keys import Keys
from workers.ledger import Ledger
from workers.limiter import RateLimiter

VENDOR = "ringostat"


def job_with_rows(r, key_prefix: str, rows: Sequence[JobRow], *,
                  limiter_name: str) -> tuple[JobStore, str, Ledger, RateLimiter]:
    """A produced job of `len(rows)` valid rows, its ledger, and a limiter that hardly limits."""
    keys = Keys(key_prefix)
    store = JobStore(r, keys)
    job_id = store.create(kind="test", vendor=VENDOR, account="default", target="t")
    store.add_rows(job_id, valid=len(rows), rejects=[], last_line=max(row.line for row in rows))
    store.mark_produced(job_id)
    ledger = Ledger(r, keys, job_id, lease_s=30)
    limiter = RateLimiter(r, key=keys.limiter(VENDOR, limiter_name), stats_key=keys.limiter_stats(VENDOR, limiter_name),
                          rate_per_s=1000, burst=10)
    return store, job_id, ledger, limiter


def err(cls, status=None, **kw):
    """A vendor error of class `cls`, as the client would raise it."""
    return cls("boom", vendor=VENDOR, status=status, **kw)


class ScriptedVendor:
    """Answers each phone from a script of outcomes, then succeeds; records what was sent."""

    def __init__(self, script: dict[str, list[Exception]]) -> None:
        self.script = {phone: list(outcomes) for phone, outcomes in script.items()}
        self.sent: list[str] = []

    def __call__(self, row: JobRow) -> None:
        self.sent.append(row.fields['phone'])
        outcomes = self.script.get(row.fields['phone'])
        if outcomes:
            raise outcomes.pop(0)


class ScriptedBatches:
    """Answers each request from a script of outcomes (None: success), then succeeds; records every request."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[list[int]] = []

    def __call__(self, rows: list[JobRow]) -> None:
        self.requests.append([row.line for row in rows])
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


def another_worker(r, key_prefix: str, job_id: str) -> Ledger:
    """The same job's ledger as another worker (another claim owner) sees it."""
    return Ledger(r, Keys(key_prefix), job_id, lease_s=30)
