"""Per-account GCRA limiter, in memory, like a vendor's own throttling.

GCRA keeps one number per account (the theoretical arrival time), so a check
is O(1) with no timers. `burst` requests may arrive back to back; after that
they are admitted one per 1/rate_per_s seconds.
"""

from __future__ import annotations

import math
import time
from typing import Callable

from .config import SandboxConfig


class RateLimiter:
    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        # Limits are read from the live config on each check, so an update applies at once.
        self._config = config
        self._clock = clock
        self._tat_s: dict[str, float] = {}

    def check(self, account: str) -> float | None:
        """Admit one request: None if allowed, else seconds until one would be."""
        limit = self._config.rate_limits.get(account)
        if limit is None:
            return None
        now_s = self._clock()
        interval_s = 1.0 / limit.rate_per_s
        tolerance_s = interval_s * (limit.burst - 1)
        tat_s = max(self._tat_s.get(account, now_s), now_s)
        wait_s = tat_s - tolerance_s - now_s
        if wait_s > 0:
            return wait_s
        self._tat_s[account] = tat_s + interval_s
        return None

    def forget(self, account: str | None = None) -> None:
        """Drop remembered usage (all accounts by default), e.g. on reset or new limit."""
        if account is None:
            self._tat_s.clear()
        else:
            self._tat_s.pop(account, None)


def retry_after_header(wait_s: float) -> str:
    # HTTP's Retry-After is whole seconds; rounding down to 0 would invite a hot retry loop.
    return str(max(1, math.ceil(wait_s)))
