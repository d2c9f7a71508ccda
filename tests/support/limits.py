"""Checks of a rate limit on send or arrival times: the most in any window, and the limit held
(and used) at the vendor."""

from __future__ import annotations

import math

from workers.limits.limiter import LATE_FLOOR_S

#: how far apart a loaded 2-core machine may stamp requests that left the workers on schedule
#: (a worker thread woken late, the sandbox's event loop busy): the sandbox's own limit allows
#: this much on top of the limiter's burst, so its 429s mean bunching beyond scheduling noise
ARRIVAL_JITTER_S = 0.1


def max_in_any_window(times: list[float], window_s: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def vendor_limit(account: str, rate: int, burst: int) -> str:
    """The sandbox's --rate for a vendor that throttles at `rate`, with the limiter's burst plus
    ARRIVAL_JITTER_S of tolerance (at least 3 requests)."""
    return f"{account}={rate}/{burst + max(3, math.ceil(ARRIVAL_JITTER_S * rate))}"


def assert_limit_held_at_vendor(rows: list[dict], valid: set[str], stats: dict, *, rate: int, burst: int) -> None:
    """Every row arrived, never more in any 1 s window than the README allows, no 429, and the
    limit was used, not just respected."""
    assert {row["phone_number"] for row in rows} == valid
    times = [row["t"] for row in rows]
    # These are arrival times at the vendor, stamped by the sandbox's one event loop: on a loaded
    # machine it stamps requests up to ARRIVAL_JITTER_S late, queued ones back to back. Requests
    # stamped within one second less that jitter left the workers within one second, so the
    # README's bound for a second holds for them: R + burst, plus the sends a slot reached late
    # lets through (a sender up to max(1/R, LATE_FLOOR_S) late still sends in its slot).
    late = math.ceil(rate * max(1.0 / rate, LATE_FLOOR_S))
    assert max_in_any_window(times, window_s=1.0 - ARRIVAL_JITTER_S) <= rate + burst + late
    assert stats["status_counts"].get("429", 0) == 0
    assert len(times) / (max(times) - min(times)) >= 0.9 * rate
