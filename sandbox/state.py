"""The sandbox's whole in-memory state: config, recorded rows, counters.

One instance per app, reachable from handlers as `request.app[STATE]`.
Everything runs on one event loop, so no locks are needed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Hashable

from aiohttp import web

from .config import SandboxConfig
from .faults import Faults
from .ratelimit import RateLimiter

Row = dict[str, Any]


@dataclass
class Stats:
    requests: int = 0
    accepted: int = 0
    hangs: int = 0
    duplicates: int = 0
    status_counts: Counter[int] = field(default_factory=Counter)
    #: vendor requests being answered now, and the most there were at once
    in_flight: int = 0
    in_flight_max: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "status_counts": {str(status): n for status, n in sorted(self.status_counts.items())},
            "hangs": self.hangs,
            "duplicates": self.duplicates,
            "in_flight_max": self.in_flight_max,
        }


class RowLog:
    """Accepted rows per vendor, plus the identities seen, to count duplicates."""

    def __init__(self) -> None:
        self.rows: defaultdict[str, list[Row]] = defaultdict(list)
        self._seen: set[tuple[str, Hashable]] = set()

    def add(self, vendor: str, identity: Hashable, row: Row) -> bool:
        """Record a row; True if the same identity was accepted before."""
        self.rows[vendor].append(row)
        key = (vendor, identity)
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

    def clear(self) -> None:
        self.rows.clear()
        self._seen.clear()


class SandboxState:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.faults = Faults(self.config)
        self.limiter = RateLimiter(self.config)
        self.stats = Stats()
        self.log = RowLog()

    def count(self, status: int) -> None:
        self.stats.requests += 1
        self.stats.status_counts[status] += 1

    def record(self, vendor: str, identity: Hashable, row: Row) -> None:
        self.stats.accepted += 1
        if self.log.add(vendor, identity, row):
            self.stats.duplicates += 1

    def configure(self, update: dict[str, Any]) -> None:
        """Merge a partial config (raises ConfigError, changing nothing, if invalid)."""
        changed = self.config.merge(update)
        if "seed" in changed:
            self.faults.reseed()
        if "rate_limits" in changed:
            # A new limit starts from a clean slate instead of the old limit's debt.
            for account in update["rate_limits"]:
                self.limiter.forget(str(account))

    def reset(self) -> None:
        """Forget rows, counters and limiter usage; keep the config."""
        self.stats = Stats()
        self.log.clear()
        self.limiter.forget()
        self.faults.reseed()


STATE: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)
