"""Fault injection, decided per request from a seedable random source.

Three kinds, matching what real vendors do to a client:
  latency_ms  every vendor request is answered that much later;
  error_rate  share answered 5xx *before* anything is applied (safe to retry);
  hang_rate   share applied first, then answered hang_s late, so a client with
              a shorter timeout sees a timeout although the row went in: the
              "unknown outcome" a client must not turn into a duplicate.
  apply_fault the next apply_fault_count applied writes hang ("hang") or answer
              502 ("502") after being applied: the same, on demand.
"""

from __future__ import annotations

import asyncio
import random

from .config import SandboxConfig

ERROR_STATUSES = (500, 502, 503)
ERROR_MESSAGES = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


class Faults:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self.rng = random.Random(config.seed)

    def reseed(self) -> None:
        self.rng = random.Random(self._config.seed)

    async def delay(self) -> None:
        latency_ms = self._config.latency_ms
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000.0)

    def error_status(self) -> int | None:
        """A 5xx status to answer with, or None. Draws only when faults are on,
        so a seeded run's sequence does not depend on unrelated settings."""
        error_rate = self._config.error_rate
        if error_rate <= 0 or self.rng.random() >= error_rate:
            return None
        return self.rng.choice(ERROR_STATUSES)

    def after_apply(self) -> str:
        """The fault an applied write gets ("hang", "502" or ""), from apply_fault/apply_fault_count."""
        config = self._config
        if not config.apply_fault or config.apply_fault_count <= 0:
            return ""
        config.apply_fault_count -= 1
        return config.apply_fault

    def hang_s(self) -> float:
        """Seconds to hold the answer of an applied request (0: answer now)."""
        hang_rate = self._config.hang_rate
        if hang_rate <= 0 or self.rng.random() >= hang_rate:
            return 0.0
        return self._config.hang_s
