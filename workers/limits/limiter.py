"""Global rate limit per (vendor, account): GCRA in one atomic Redis script.

Every worker process on every host reserves its send slot from the same Redis key, so the
limit holds cluster-wide. Redis' own clock is used, so host clocks need not agree.
A reservation is refused when the slot is further away than `max_wait_s`: callers then
sleep and ask again instead of booking slots far ahead, which keeps pause/cancel prompt.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis

# KEYS[1]  theoretical arrival time (TAT) of the account, µs on the Redis clock
# KEYS[2]  stats hash of the account (waits, refusals, penalties)
# ARGV[1]  emission interval, µs (1e6 / rate_per_s)
# ARGV[2]  tolerance, µs ((burst - 1) * interval): how far ahead of schedule a send may be
# ARGV[3]  max wait, µs: beyond it nothing is reserved
# ARGV[4]  slots to reserve back to back (default 1): slot k may be used at wait + k * interval
#          (sooner when the tolerance allows), so n requests of one row keep the account's rate
# ARGV[5]  slots the caller gave up late since its last call (default 0), counted as `missed`
# returns  {reserved (1/0), wait µs for the first slot, µs from now to when the last slot may be used}
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local missed = tonumber(ARGV[5] or 0)
if missed > 0 then redis.call('HINCRBY', KEYS[2], 'missed', missed) end
local interval = tonumber(ARGV[1])
local slots = tonumber(ARGV[4] or 1)
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now)
local wait = math.max(0, tat - tonumber(ARGV[2]) - now)
if wait > tonumber(ARGV[3]) then
  redis.call('HINCRBY', KEYS[2], 'refused', 1)
  return {0, wait, wait}
end
local ttl_ms = math.ceil((tat + slots * interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], tat + slots * interval, 'PX', ttl_ms)
redis.call('HINCRBY', KEYS[2], 'granted', slots)
if wait > 0 then redis.call('HINCRBYFLOAT', KEYS[2], 'wait_s', wait / 1000000) end
return {1, wait, math.max(0, tat + (slots - 1) * interval - tonumber(ARGV[2]) - now)}
"""

# KEYS[1]  TAT of the account;  KEYS[2]  stats hash;  KEYS[3]  the account's quiet-until mark
# ARGV[1]  how long the vendor asked us to stay away, µs (429 Retry-After)
# ARGV[2]  tolerance, µs (as RESERVE's): a slot may be used that far ahead of the TAT
# Nobody may send before now + ARGV[1]: the TAT moves there (plus the tolerance) unless later.
PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
redis.call('HINCRBY', KEYS[2], 'throttled', 1)
-- Callers already sleeping towards a slot booked before the 429 look at this mark on waking.
redis.call('SET', KEYS[3], now + tonumber(ARGV[1]), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
if until_us > tat then
  redis.call('SET', KEYS[1], until_us, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"""


#: a slot is given up when its sender gets to it later than max(one emission interval, this):
#: senders of a process that stalled (GC, a busy CPU) wake together, and what they sent would
#: reach the vendor bunched above the limit although each held its own slot
LATE_FLOOR_S = 0.02

#: a Retry-After beyond this is taken as this: a vendor's typo must not stop an account for days
MAX_PENALTY_S = 3600.0
#: "no 429 asks for quiet" holds this long for a limiter's senders: those of one group, sleeping
#: until slots an interval apart, ask Redis once per this, not once per row. A 429 met through
#: this limiter counts at once; one another worker met is seen at most this much later.
QUIET_RECHECK_S = 0.01


# KEYS[1]  the account's quiet-until mark (µs, Redis clock);  returns µs still to stay quiet
QUIET_LEFT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return math.max(0, tonumber(redis.call('GET', KEYS[1]) or 0) - now)
"""


@dataclass(frozen=True)
class Reservation:
    granted: bool
    wait_s: float
    #: from now until the last of the reserved slots may be used (== wait_s for one slot)
    last_s: float = 0.0
    #: time.monotonic() at which each reserved slot may be used, first to last (granted only)
    due: tuple[float, ...] = ()


class RateLimiter:
    """acquire() blocks until this caller may send one request; penalize() obeys a 429.

    acquire(slots=n) reserves the n requests of one unit of work at once (the Obzvonilka
    upsert: a find, then a write), before any row is claimed; take_reserved() then waits for
    the next of them, at most one emission interval, without asking Redis for a new slot.
    reserve(n) books n slots in one call without waiting, each with its own due time, for n
    concurrent sends; a sender that slept until its slot asks quiet() before it sends.
    Slots kept for take_reserved() are per thread (keep_reserved()), so concurrent senders
    of one limiter each wait for their own.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str,
        stats_key: str,
        rate_per_s: float,
        burst: int = 1,
        max_wait_s: float = 5.0,
    ) -> None:
        self._client = client
        self._keys = [key, stats_key]
        self._quiet_key = f"{key}:quiet"
        self._interval_us = int(1_000_000 / rate_per_s)
        self._tolerance_us = (burst - 1) * self._interval_us
        self._late_s = max(self._interval_us / 1_000_000, LATE_FLOOR_S)
        self._max_wait_us = int(max_wait_s * 1_000_000)
        self._reserve = client.register_script(RESERVE)
        self._penalize = client.register_script(PENALIZE)
        self._quiet_left = client.register_script(QUIET_LEFT)
        #: per thread: time.monotonic() at which each slot kept for take_reserved() is due
        self._local = threading.local()
        #: time.monotonic() until which quiet() answers without asking Redis: (quiet, until)
        self._quiet_known: tuple[bool, float] = (False, 0.0)

    @property
    def _reserved_at(self) -> list[float]:
        return self._local.__dict__.setdefault("reserved_at", [])

    def keep_reserved(self, due: list[float] | tuple[float, ...]) -> None:
        """The slots this thread's take_reserved() waits for next (a row's slots after its first)."""
        self._local.reserved_at = list(due)

    def reserve(self, slots: int = 1, *, missed: int = 0) -> Reservation:
        """One atomic try: `slots` back-to-back slots within max_wait_s, or how far away the next one is.
        `missed`: slots the caller gave up late (late()) since, counted in the same call: a late
        slot's new one costs one round trip, not two."""
        args = [self._interval_us, self._tolerance_us, self._max_wait_us, slots] + ([missed] if missed else [])
        granted, wait_us, last_us = self._reserve(keys=self._keys, args=args)
        wait_s, last_s = int(wait_us) / 1_000_000, int(last_us) / 1_000_000
        due = _due(time.monotonic(), last_s, slots, self._interval_us / 1_000_000) if granted else ()
        return Reservation(bool(granted), wait_s, last_s, due)

    def late(self, due: float) -> bool:
        """Whether the slot due at `due` (time.monotonic()) passed too long ago to be used: the
        caller sends nothing in it and asks for a new one (see LATE_FLOOR_S), counting it in
        the account's stats as `missed` (reserve(missed=1), or missed() when no reserve
        follows): many mean a worker too busy for its rows in flight."""
        return time.monotonic() - due > self._late_s

    def missed(self, due: float) -> bool:
        """late(), and a late slot counted at once."""
        if not self.late(due):
            return False
        self._client.hincrby(self._keys[1], "missed", 1)
        return True

    def start_by(self, due: float) -> float:
        """By when a send in the slot due at `due` must go out (vendors.deadline.start_by): a
        request made late by a busy process would reach the vendor bunched like a late wake."""
        return due + self._late_s

    def quiet(self) -> bool:
        """Whether a 429 since asks every sender of the account to stay quiet now (a 'no' from
        Redis is trusted for QUIET_RECHECK_S, a 'yes' until its quiet time ends)."""
        quiet, until = self._quiet_known
        if time.monotonic() < until:
            return quiet
        left_s = int(self._quiet_left(keys=[self._quiet_key])) / 1_000_000
        self._quiet_known = (bool(left_s), time.monotonic() + (left_s or QUIET_RECHECK_S))
        return bool(left_s)

    def acquire(self, *, should_stop=lambda: False, slots: int = 1) -> bool:
        """Sleep until our reserved slot; False when should_stop() said so before a slot came.
        With slots=n, the n-1 slots after the first are kept for take_reserved()."""
        self.keep_reserved([])
        missed = 0  # a slot given up late, counted by the next reserve
        while True:
            reservation, missed = self.reserve(slots, missed=missed), 0
            if reservation.granted:
                if reservation.wait_s:
                    time.sleep(max(0.0, reservation.due[0] - time.monotonic()))
                    # A 429 while we slept: a slot booked before it must not be used inside its quiet time.
                    if self.quiet():
                        continue
                    if self.late(reservation.due[0]):
                        missed = 1
                        continue
                self.keep_reserved(reservation.due[1:])
                return True
            if should_stop():
                return False
            # Not granted: the schedule is full for max_wait_s. Sleep most of the way, then ask again.
            time.sleep(min(reservation.wait_s, self._max_wait_us / 1_000_000) * 0.9)

    def take_reserved(self) -> bool:
        """Wait for the next slot acquire(slots=n) reserved; False when none is left, when it was
        missed, or when a 429 since asks for quiet (the caller then sends nothing and gives its
        row back)."""
        if not self._reserved_at:
            return False
        due_at = self._reserved_at.pop(0)
        if due_at > time.monotonic():
            time.sleep(max(0.0, due_at - time.monotonic()))
        return not self.missed(due_at) and not self.quiet()

    def penalize(self, retry_after_s: float) -> None:
        """Push this account's schedule past the vendor's Retry-After, for every worker at once."""
        wait_s = min(max(retry_after_s, 0.0), MAX_PENALTY_S) if retry_after_s == retry_after_s else 1.0  # NaN
        self._penalize(keys=[*self._keys, self._quiet_key], args=[int(wait_s * 1_000_000), self._tolerance_us])
        # known here at once (a 0 s one: Redis is asked again)
        self._quiet_known = (wait_s > 0, time.monotonic() + wait_s)


def _due(now: float, last_s: float, slots: int, interval_s: float) -> tuple[float, ...]:
    """When each of `slots` back-to-back slots may be used: slot k one interval after slot k-1,
    the last at now + last_s, none before now (the burst tolerance lets the first ones go at once).
    `now` is taken after Redis answered, so every slot is due no earlier than the schedule says."""
    return tuple(now + max(0.0, last_s - (slots - 1 - k) * interval_s) for k in range(slots))
