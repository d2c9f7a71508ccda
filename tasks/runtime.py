"""What tasks need from the process that runs them, as an interface.

Tasks stay thin and free of infrastructure: the worker side (`workers.runtime.worker_runtime.WorkerRuntime`)
installs an implementation at start-up. This keeps dependencies one-way: workers -> tasks ->
vendors. Every member tasks/ uses of the runtime, and of what it hands out (limiters, job
ledgers, the once-ledger, the secret store), is declared here; tests/unit/test_runtime_interface.py
checks that the worker's implementation provides all of it.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from tasks.retry import RetryPolicy


class Reservation(Protocol):
    """Limiter slots booked in one call (workers.limits.limiter.Reservation)."""

    granted: bool
    #: refused: how far away the next slot is; granted: the wait for the first slot
    wait_s: float
    #: the wait for the last slot
    last_s: float
    #: time.monotonic() at which each slot may be used, first to last
    due: tuple[float, ...]


class Limiter(Protocol):
    """The global limit of one vendor account (workers.limits.limiter.RateLimiter)."""

    def acquire(self, *, should_stop: Callable[[], bool] = ..., slots: int = 1) -> bool: ...
    def reserve(self, slots: int = 1, *, missed: int = 0) -> Reservation: ...
    def keep_reserved(self, due: list[float] | tuple[float, ...]) -> None: ...
    def take_reserved(self) -> bool: ...
    def late(self, due: float) -> bool: ...
    def missed(self, due: float) -> bool: ...
    def start_by(self, due: float) -> float: ...
    def quiet(self) -> bool: ...
    def penalize(self, retry_after_s: float) -> None: ...


class Claim(Protocol):
    """What the ledger answers to a claim on a row: `value` is claimed, reclaimed, busy, done,
    paused, cancelled, gone, or badline (not a line number of this job, e.g. past its last line:
    never sent, never recorded, so a chunk skips just that row)."""

    @property
    def value(self) -> str: ...
    @property
    def may_send(self) -> bool: ...


class Claims(Protocol):
    """What one claim on many rows answers (workers.jobs.ledger.Claims)."""

    #: paused, cancelled or gone: nothing was claimed; None while the job runs
    stop: Claim | None
    verdicts: dict[int, Claim]
    #: how long the longest lease another owner holds on these rows still runs
    busy_left_s: float


class Ledger(Protocol):
    """One job's record of its rows (workers.jobs.ledger.Ledger): per-row claims with leases and outcomes."""

    def finished_lines(self, lines: list[int]) -> set[int]: ...
    def claim(self, line: int) -> Claim: ...
    def claim_many(self, lines: list[int], *, extra_lease_s: float = 0.0,
                   delivered: list[int] | tuple = ()) -> Claims: ...
    def delivered(self, line: int) -> bool: ...
    def delivered_many(self, lines: list[int]) -> list[bool]: ...
    def failed(self, line: int, fields: dict, *, reason: str, outcome: str = "failed", wire: list | None = None,
               unclaimed_only: bool = False) -> bool: ...
    def job_state(self) -> str: ...
    def stopped(self) -> bool: ...
    def release(self, line: int, *, unknown_outcome: bool) -> bool: ...
    def pause(self, reason: str) -> str: ...
    def line_limit(self) -> int | None: ...
    def lease_left_s(self, lines: list[int]) -> float: ...


class OnceEntry(Protocol):
    """What the once-ledger answers when a run of a non-idempotent operation enters."""

    verdict: str  # send | sent | busy | stale | check
    sent_at_s: float
    result: Any
    wait_s: float
    run: str


class OnceLedger(Protocol):
    """Per task id: who may send a non-idempotent operation, and what came of it (workers.runtime.once_ledger).
    Every write names the run's token: a compare-and-set."""

    def enter(self, task_id: str, *, attempt: int, lease_s: float) -> OnceEntry: ...
    def sent_entry(self, task_id: str) -> OnceEntry | None: ...
    def renew(self, task_id: str, run: str, *, attempt: int, lease_s: float) -> bool: ...
    def clear(self, task_id: str, run: str, *, attempt: int) -> bool: ...
    def handoff(self, task_id: str, run: str, *, attempt: int, next_attempt: int, unknown: bool) -> bool: ...
    def sent(self, task_id: str, run: str, result: Any, *, attempt: int) -> bool: ...
    def failed(self, task_id: str, run: str, *, attempt: int) -> bool: ...
    def unknown(self, task_id: str, run: str, *, attempt: int) -> bool: ...


class SecretStore(Protocol):
    """Secrets passed by reference (workers.runtime.secret_store): a task reads them, then deletes them."""

    def get(self, ref: str) -> str | None: ...
    def delete(self, refs: list[str]) -> None: ...


class Runtime(Protocol):
    retry: RetryPolicy
    #: how long a claim on a row lasts
    row_lease_s: float
    #: every HTTP call of one row's send ends within this (the lease outlasts it)
    send_budget_s: float
    #: a chunk stops sending after this long and hands its remaining rows on
    chunk_time_budget_s: float
    #: rows of one chunk sent at once (1: one after another)
    rows_in_flight: int

    def limiter(self, vendor: str, account: str) -> Limiter: ...
    def ledger(self, job_id: str) -> Ledger: ...
    def client(self, vendor: str, account: str) -> Any: ...
    def defer(self, task_name: str, kwargs: dict, *, delay_s: float, **options: Any) -> None: ...
    def park(self, job_id: str, task_name: str, kwargs: dict) -> bool: ...
    # Non-idempotent single operations (tasks/once.py) and secrets by reference (tasks/secretrefs.py)
    def once(self) -> OnceLedger: ...
    def count_once(self, task_name: str, event: str) -> None: ...
    def call_lease_s(self, vendor: str) -> float: ...
    #: a single operation's HTTP calls end within this (its lease outlasts it)
    def call_budget_s(self, vendor: str) -> float: ...
    def secrets(self) -> SecretStore: ...
    def dead_letter(self, task_name: str, kwargs: Any, reason: str) -> None: ...
    def hand_on(self, task_name: str, kwargs: dict) -> None: ...


_runtime: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no telequeue runtime installed: run tasks in a worker started from workers.app")
    return _runtime
