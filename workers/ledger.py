"""The per-row ledger of a job: who may send a row, and what became of it.

A row is identified by its line number in the source file. Its life:
  pending --claim--> claimed (lease) --finish--> delivered | failed
A claim whose lease ran out means a worker died or hung mid-send: the next claimer sends
again and the row is counted in `unknown_outcome` (a possible duplicate at the vendor).
A delivered or failed row is never sent again, whatever retries or redeliveries happen.
"""

from __future__ import annotations

import json
import re
from enum import Enum

import redis

from workers.keys import Keys
from workers.settings import get_settings

# Shared tail: when every valid row has an outcome and the producer is done, the job is done,
# and every key of the job (all of KEYS, job hash first) expires ARGV[#ARGV] seconds later.
_MAYBE_DONE = """
local function maybe_done(job)
  local ttl = tonumber(ARGV[#ARGV])
  local c = redis.call('HMGET', job, 'produced', 'valid', 'delivered', 'failed', 'cancelled', 'state')
  if c[1] == '1' and c[6] ~= 'done' and
     (tonumber(c[3]) or 0) + (tonumber(c[4]) or 0) + (tonumber(c[5]) or 0) >= (tonumber(c[2]) or 0) then
    local t = redis.call('TIME')
    if c[6] ~= 'cancelled' and c[6] ~= 'aborted' then redis.call('HSET', job, 'state', 'done') end
    redis.call('HSETNX', job, 'finished_at', t[1] .. '.' .. string.format('%06d', t[2]))
    for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
"""

# KEYS  job, delivered, failed, claims, unknown
# ARGV  line, lease_ms
# returns 'claimed' | 'reclaimed' | 'busy' | 'done' | 'paused' | 'cancelled' | 'gone'
CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'gone' end
if state == 'paused' or state == 'cancelled' then return state end
local line = ARGV[1]
if redis.call('GETBIT', KEYS[2], line) == 1 or redis.call('HEXISTS', KEYS[3], line) == 1 then return 'done' end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(redis.call('HGET', KEYS[4], line) or 0)
if lease > now then return 'busy' end
redis.call('HSET', KEYS[4], line, now + tonumber(ARGV[2]))
if lease == 0 then return 'claimed' end
redis.call('HINCRBY', KEYS[5], line, 1)
redis.call('HINCRBY', KEYS[1], 'unknown_outcome', 1)
return 'reclaimed'
"""

# KEYS  every key of the job (Keys.job_keys): job, delivered, failed, claims, ...
# ARGV  line, outcome ('delivered' | 'failed' | 'cancelled'), failure JSON,
#       unclaimed_only ('1': leave a row another worker holds under a live lease), TTL s
# returns 1 when this call recorded the outcome, 0 when the row already had one
FINISH = _MAYBE_DONE + """
local line = ARGV[1]
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  if tonumber(redis.call('HGET', KEYS[4], line) or 0) > tonumber(t[1]) * 1000 then return 0 end
end
redis.call('HDEL', KEYS[4], line)
if redis.call('GETBIT', KEYS[2], line) == 1 or redis.call('HEXISTS', KEYS[3], line) == 1 then return 0 end
if ARGV[2] == 'delivered' then
  redis.call('SETBIT', KEYS[2], line, 1)
else
  redis.call('HSET', KEYS[3], line, ARGV[3])
end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
maybe_done(KEYS[1])
return 1
"""

# KEYS  claims, unknown, job
# ARGV  line, unknown (1 when the request may have reached the vendor, e.g. a timeout)
RELEASE = """
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('HINCRBY', KEYS[3], 'unknown_outcome', 1)
end
return 1
"""

# KEYS  every key of the job, job first;  ARGV  TTL s
CHECK_DONE = _MAYBE_DONE + """
maybe_done(KEYS[1])
return redis.call('HGET', KEYS[1], 'state')
"""


class Claim(str, Enum):
    CLAIMED = "claimed"
    RECLAIMED = "reclaimed"  # sent before by a worker that vanished: may duplicate
    BUSY = "busy"            # another worker holds a live lease on this row
    DONE = "done"            # delivered or failed already: never send again
    PAUSED = "paused"
    CANCELLED = "cancelled"
    GONE = "gone"            # the job's keys expired or were deleted: nothing to do

    @property
    def may_send(self) -> bool:
        return self in (Claim.CLAIMED, Claim.RECLAIMED)


class Ledger:
    def __init__(self, client: redis.Redis, keys: Keys, job_id: str, *, lease_s: float, ttl_s: int | None = None) -> None:
        self._client = client
        self._all_keys = keys.job_keys(job_id)
        self._job_keys = self._all_keys[:4]  # job, delivered, failed, claims
        self._ttl_s = ttl_s if ttl_s is not None else get_settings().job_ttl_s
        self._unknown = keys.unknown(job_id)
        self._lease_ms = int(lease_s * 1000)
        self._claim = client.register_script(CLAIM)
        self._finish = client.register_script(FINISH)
        self._release = client.register_script(RELEASE)
        self._check_done = client.register_script(CHECK_DONE)

    def finished_lines(self, lines: list[int]) -> set[int]:
        """The lines among these that already have an outcome (one round trip)."""
        _, delivered, failed, _ = self._job_keys
        pipe = self._client.pipeline(transaction=False)
        for line in lines:
            pipe.getbit(delivered, line)
            pipe.hexists(failed, line)
        flags = pipe.execute()
        return {line for i, line in enumerate(lines) if flags[2 * i] or flags[2 * i + 1]}

    def claim(self, line: int) -> Claim:
        result = self._claim(keys=[*self._job_keys, self._unknown], args=[line, self._lease_ms])
        return Claim(result.decode() if isinstance(result, bytes) else result)

    def delivered(self, line: int) -> bool:
        return bool(self._finish(keys=self._all_keys, args=[line, "delivered", "", "0", self._ttl_s]))

    def failed(self, line: int, fields: dict, *, reason: str, outcome: str = "failed", wire: list | None = None,
               unclaimed_only: bool = False) -> bool:
        """Record a row's failure: its fields (for the report), the reason, and its chunk form (to retry it).

        unclaimed_only: for rows this worker is not sending (cancel, giving up): a row another
        worker is sending right now is left to that worker's outcome.
        """
        record = json.dumps({**fields, "line": line, "reason": reason, "wire": wire}, ensure_ascii=False)
        args = [line, outcome, record, "1" if unclaimed_only else "0", self._ttl_s]
        return bool(self._finish(keys=self._all_keys, args=args))

    def job_state(self) -> str:
        """The job's state, 'gone' once its keys expired."""
        state = self._client.hget(self._job_keys[0], "state")
        return state.decode() if state else "gone"

    def stopped(self) -> bool:
        """Paused, cancelled or gone: a worker waiting for a slot should stop waiting."""
        return self.job_state() in ("paused", "cancelled", "gone")

    def release(self, line: int, *, unknown_outcome: bool) -> None:
        """Give the row back as pending; mark it when the vendor may have applied it anyway."""
        job, _, _, claims = self._job_keys
        self._release(keys=[claims, self._unknown, job], args=[line, int(unknown_outcome)])

    def lease_left_s(self, lines: list[int]) -> float:
        """How long the longest live lease among these rows still runs (0 when none is held)."""
        _, _, _, claims = self._job_keys
        pipe = self._client.pipeline(transaction=False)
        pipe.time()
        pipe.hmget(claims, lines)
        (seconds, micros), deadlines = pipe.execute()
        now_ms = seconds * 1000 + micros // 1000
        # the deadline (ms, Redis clock) leads the claim's value
        left = [int(re.match(rb"\d+", d).group()) - now_ms for d in deadlines if d and re.match(rb"\d+", d)]
        return max([0, *left]) / 1000

    def check_done(self) -> str | None:
        state = self._check_done(keys=self._all_keys, args=[self._ttl_s])
        return state.decode() if isinstance(state, bytes) else state
