"""What tasks need from the process that runs them, as an interface.

Tasks stay thin and free of infrastructure: the worker side (`workers.runtime`) installs
an implementation at start-up. This keeps dependencies one-way: workers -> tasks -> vendors.
"""

from __future__ import annotations

from typing import Any, Protocol


class Limiter(Protocol):
    def acquire(self, *, should_stop: Any = ...) -> bool: ...
    def penalize(self, retry_after_s: float) -> None: ...


class Ledger(Protocol):
    def finished_lines(self, lines: list[int]) -> set[int]: ...
    def claim(self, line: int) -> Any: ...
    def delivered(self, line: int) -> bool: ...
    def failed(self, line: int, fields: dict, *, reason: str, outcome: str = "failed", wire: list | None = None,
               unclaimed_only: bool = False) -> bool: ...
    def job_state(self) -> str: ...
    def stopped(self) -> bool: ...
    def release(self, line: int, *, unknown_outcome: bool) -> None: ...
    def lease_left_s(self, lines: list[int]) -> float: ...


class RetryPolicy(Protocol):
    in_task_attempts: int
    in_task_backoff_s: float
    max_task_retries: int
    backoff_base_s: float
    backoff_max_s: float


class Runtime(Protocol):
    retry: RetryPolicy
    #: a chunk stops sending after this long and hands its remaining rows on
    chunk_time_budget_s: float

    def limiter(self, vendor: str, account: str) -> Limiter: ...
    def ledger(self, job_id: str) -> Ledger: ...
    def client(self, vendor: str, account: str) -> Any: ...
    def defer(self, task_name: str, kwargs: dict, *, delay_s: float, **options: Any) -> None: ...
    def park(self, job_id: str, task_name: str, kwargs: dict) -> bool: ...
    def hand_on(self, task_name: str, kwargs: dict) -> None: ...


_runtime: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no telequeue runtime installed: run tasks in a worker started from workers.app")
    return _runtime
