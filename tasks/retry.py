"""The one retry policy of transient vendor failures, for single operations and chunks alike.

Two levels of retry:

- in a task: a chunk retries a row (or batch) `in_task_attempts` times, `in_task_backoff_s`
  apart and doubling, before it defers the row; a 429 costs no attempt (the limiter waits as
  the vendor asked) until MAX_THROTTLES_PER_ROW of them;
- in rounds: a deferred chunk, or a single operation, goes through the deferred set up to
  `max_task_retries` times, `backoff_base_s` apart and doubling up to `backoff_max_s`.

The worker's settings fill this model itself (`TELEQUEUE_RETRY__*`, `Settings.retry` in
workers/settings.py); tasks read it from the runtime (`current().retry`).
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

#: 429s one row (or batch) may meet in a task before it is deferred; they cost no attempt
MAX_THROTTLES_PER_ROW = 10
#: the longest pause between in-task attempts: a chunk's rows wait behind it
IN_TASK_BACKOFF_MAX_S = 2.0


class RetryPolicy(BaseModel):
    """Bounded retries of transient vendor failures."""

    model_config = ConfigDict(frozen=True)

    #: tries of one row (or batch) within one run of a chunk
    in_task_attempts: int = Field(default=3, ge=1)
    in_task_backoff_s: float = 0.2
    #: rounds through the deferred set: of a chunk's still-pending rows, or of a single operation
    max_task_retries: int = Field(default=8, ge=0)
    backoff_base_s: float = 2.0
    backoff_max_s: float = 120.0

    def in_task_delay_s(self, attempt: int) -> float:
        """Pause before in-task attempt number `attempt` + 1 (`attempt` 0-based, the one that failed)."""
        return backoff_s(attempt, base_s=self.in_task_backoff_s, max_s=IN_TASK_BACKOFF_MAX_S)

    def may_retry(self, rounds: int) -> bool:
        """Whether a task already retried `rounds` times may go round once more."""
        return rounds < self.max_task_retries

    def round_delay_s(self, rounds: int) -> float:
        """How long round number `rounds` + 1 waits in the deferred set."""
        return backoff_s(rounds, base_s=self.backoff_base_s, max_s=self.backoff_max_s)


def backoff_s(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (0-based): uniform in [base*2^attempt / 2, base*2^attempt], capped."""
    ceiling = min(max_s, base_s * (2 ** attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)


__all__ = ["IN_TASK_BACKOFF_MAX_S", "MAX_THROTTLES_PER_ROW", "RetryPolicy", "backoff_s"]
