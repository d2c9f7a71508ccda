"""Whether the vendor accepted an account's key lately, as this process saw it.

A chunk's first send goes alone, the rest once it ended without a stop: a key the vendor
refuses then meets one 401 per chunk (which pauses the job), not one per row in flight. But
that costs every chunk one vendor round trip at its start, and in a busy worker the chunks
start and end together, so the account's limit went unused for a round trip per chunk: one
worker holding 500/s at 150 ms reached 86 % of it that way, 94-96 % with chunks starting at
full width (BENCHMARKS.md, issue 11 third session). So once the vendor took a send with the
account's key, the account's next chunks in this process start with all their rows in flight
for TRUST_S. A key revoked meanwhile meets at most a chunk's rows in flight of 401s in each
chunk that was sending; the first of them pauses the job and ends the trust.
"""

from __future__ import annotations

import math
import time
from typing import Callable

#: how long one accepted send vouches for the account's key (every send the vendor takes renews it)
TRUST_S = 60.0


class KeyTrust:
    """One account's key, as far as this process knows: trusted while the vendor took a send
    with it within `ttl_s` and refused none since."""

    def __init__(self, ttl_s: float = TRUST_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._accepted_at = -math.inf  # when the latest send the vendor took started
        self._refused_at = -math.inf

    def trusted(self) -> bool:
        return self._accepted_at > self._refused_at and self._clock() - self._accepted_at < self._ttl_s

    def accepted(self, started_at: float | None = None) -> None:
        """The vendor took a send that started at `started_at` (now when not given). One that
        started before the latest refusal, answered after it, vouches for nothing."""
        self._accepted_at = max(self._accepted_at, self._clock() if started_at is None else started_at)

    def refused(self) -> None:
        self._refused_at = self._clock()


#: per (vendor, account), shared by every chunk and sender thread of the process
_keys: dict[tuple[str, str], KeyTrust] = {}


def key_trust(vendor: str, account: str) -> KeyTrust:
    return _keys.setdefault((vendor, account), KeyTrust())
