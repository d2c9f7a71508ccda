"""The per-row ledger of a job: who may send a row, and what became of it.

A row is identified by its line number in the source file. Its life:
  pending --claim--> claimed (lease) --finish--> delivered | failed
A claim whose lease ran out means a worker died or hung mid-send: the next claimer sends
again and the row is counted in `unknown_outcome` (a possible duplicate at the vendor).
A delivered or failed row is never sent again, whatever retries or redeliveries happen.

A claim has an owner, a token unique to the Ledger object (one per chunk run) that made it,
kept beside the lease's deadline (field '<line>:owner'; the deadline stays a plain number). Only the owner releases the row, and a
finish never ends another owner's live lease; the owner claiming again (redis-py re-running
a script after a dropped connection) renews its own lease instead of meeting 'busy'.
A line is checked against the job (1..last_line) before any bit is set: a stray line of
4294967295 would make SETBIT allocate 512 MiB.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from dataclasses import dataclass
from enum import Enum

import redis

from workers.redis.keys import Keys
from workers.settings import get_settings

# Shared tail: when every valid row has an outcome and the producer is done, the job is done,
# and every key of the job (all of KEYS, job hash first) expires ARGV[#ARGV] seconds later.
_MAYBE_DONE = """
local function maybe_done(job)
  local ttl = tonumber(ARGV[#ARGV])
  local c = redis.call('HMGET', job, 'produced', 'valid', 'delivered', 'failed', 'cancelled', 'state', 'aborted')
  if c[1] == '1' and c[6] ~= 'done' and
     (tonumber(c[3]) or 0) + (tonumber(c[4]) or 0) + (tonumber(c[5]) or 0) >= (tonumber(c[2]) or 0) then
    local t = redis.call('TIME')
    -- a load that ended early ends as aborted, even when it was paused meanwhile
    if c[6] ~= 'cancelled' and c[6] ~= 'aborted' then redis.call('HSET', job, 'state', c[7] == '1' and 'aborted' or 'done') end
    redis.call('HSETNX', job, 'finished_at', t[1] .. '.' .. string.format('%06d', t[2]))
    for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
"""

#: the line limit of a job whose producer recorded no last_line (2 MiB of bitmap at most)
DEFAULT_MAX_LINE = 1 << 24

# The lease on a line: its deadline (ms, Redis clock) and owner, (0, '') when unclaimed.
_LEASE = """
local function lease_of(claims, line)
  local deadline = tonumber(redis.call('HGET', claims, line))
  if not deadline then return 0, '' end
  return deadline, redis.call('HGET', claims, line .. ':owner') or ''
end
local function hold(claims, line, deadline, owner)
  redis.call('HSET', claims, line, deadline, line .. ':owner', owner)
end
local function unhold(claims, line)
  redis.call('HDEL', claims, line, line .. ':owner')
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- a row of this job: 1..last_line (the producer records it), or 1..DEFAULT_MAX_LINE without it
local function line_ok(job, line)
  local n = tonumber(line)
  if not n or n < 1 or n ~= math.floor(n) then return false end
  return n <= (tonumber(redis.call('HGET', job, 'last_line')) or DEFAULT_MAX_LINE)
end
""".replace("DEFAULT_MAX_LINE", str(DEFAULT_MAX_LINE))

# KEYS  delivered, failed
# ARGV  line...
# returns the lines among ARGV that have an outcome (delivered or failed). One script instead
# of a pipeline of GETBIT + HEXISTS per line: redis-py spends ~5 µs of Python on each command
# of a pipeline, ~1 ms for a chunk of 100 rows; the script costs ~75 µs.
FINISHED = """
local out = {}
for i = 1, #ARGV do
  if redis.call('GETBIT', KEYS[1], ARGV[i]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    out[#out + 1] = ARGV[i]
  end
end
return out
"""

# KEYS  job, delivered, failed, claims, unknown
# ARGV  line, lease_ms, owner
# returns 'claimed' | 'reclaimed' | 'busy' | 'done' | 'paused' | 'cancelled' | 'gone' | 'badline'
CLAIM = _LEASE + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'gone' end
if state == 'paused' or state == 'cancelled' then return state end
local line = ARGV[1]
if not line_ok(KEYS[1], line) then return 'badline' end
if redis.call('GETBIT', KEYS[2], line) == 1 or redis.call('HEXISTS', KEYS[3], line) == 1 then return 'done' end
local now = now_ms()
local lease, owner = lease_of(KEYS[4], line)
if lease > now and owner ~= ARGV[3] then return 'busy' end
hold(KEYS[4], line, now + tonumber(ARGV[2]), ARGV[3])
-- The owner's own claim run again (redis-py retrying after a dropped connection) only renews it.
if lease == 0 or owner == ARGV[3] then return 'claimed' end
redis.call('HINCRBY', KEYS[5], line, 1)
redis.call('HINCRBY', KEYS[1], 'unknown_outcome', 1)
return 'reclaimed'
"""

# CLAIM for many lines in one call, ARGV[first..last]: the job's state is read once; returns
# {stop, busy_left_ms, verdict per line}: stop is 'paused' | 'cancelled' | 'gone' (then no line
# was claimed) or '', busy_left_ms how long the longest lease another owner holds among the lines
# still runs. KEYS[1..4]: job, delivered, failed, claims.
_CLAIM_LINES = """
local function claim_lines(unknown, lease_ms, owner, first, last)
  local state = redis.call('HGET', KEYS[1], 'state')
  if not state then return {'gone', 0} end
  if state == 'paused' or state == 'cancelled' then return {state, 0} end
  local now = now_ms()
  local deadline = now + lease_ms
  local out = {'', 0}
  for i = first, last do
    local line, verdict = ARGV[i], 'claimed'
    if not line_ok(KEYS[1], line) then
      verdict = 'badline'
    elseif redis.call('GETBIT', KEYS[2], line) == 1 or redis.call('HEXISTS', KEYS[3], line) == 1 then
      verdict = 'done'
    else
      local lease, holder = lease_of(KEYS[4], line)
      if lease > now and holder ~= owner then
        verdict = 'busy'
        out[2] = math.max(out[2], lease - now)
      else
        hold(KEYS[4], line, deadline, owner)
        if lease > 0 and holder ~= owner then
          verdict = 'reclaimed'
          redis.call('HINCRBY', unknown, line, 1)
          redis.call('HINCRBY', KEYS[1], 'unknown_outcome', 1)
        end
      end
    end
    out[#out + 1] = verdict
  end
  return out
end
"""

# KEYS  job, delivered, failed, claims, unknown
# ARGV  lease_ms, owner, line...
CLAIM_MANY = _LEASE + _CLAIM_LINES + """
return claim_lines(KEYS[5], tonumber(ARGV[1]), ARGV[2], 3, #ARGV)
"""

# KEYS  every key of the job (Keys.job_keys): job, delivered, failed, claims, ...
# ARGV  line, outcome ('delivered' | 'failed' | 'cancelled'), failure JSON,
#       owner ('' for a worker that is not sending the row: cancel marking, giving up), TTL s
# A live lease of another owner is left alone (that worker's answer decides the row);
# returns 1 when this call recorded the outcome, 0 when it did not.
_FINISH = _LEASE + """
local function finish(line, outcome, record, owner)
  if not line_ok(KEYS[1], line) then return redis.error_reply('line ' .. line .. ' is not a row of this job') end
  local lease, holder = lease_of(KEYS[4], line)
  if lease > now_ms() and holder ~= owner then return 0 end
  if lease > 0 then unhold(KEYS[4], line) end
  if redis.call('GETBIT', KEYS[2], line) == 1 or redis.call('HEXISTS', KEYS[3], line) == 1 then return 0 end
  if outcome == 'delivered' then
    redis.call('SETBIT', KEYS[2], line, 1)
  else
    redis.call('HSET', KEYS[3], line, record)
  end
  redis.call('HINCRBY', KEYS[1], outcome, 1)
  return 1
end
"""
FINISH = _MAYBE_DONE + _FINISH + """
local done = finish(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if done == 1 then maybe_done(KEYS[1]) end
return done
"""

# FINISH as 'delivered' for ARGV[first..last], lines of one owner: 1/0 per line, or the first
# line's error (a line not of this job) as it is to be returned.
_DELIVER_LINES = _MAYBE_DONE + _FINISH + """
local function deliver_lines(owner, first, last)
  local out = {}
  for i = first, last do
    local done = finish(ARGV[i], 'delivered', '', owner)
    if type(done) == 'table' then return done end
    out[#out + 1] = done
  end
  maybe_done(KEYS[1])
  return out
end
"""

# KEYS  as FINISH;  ARGV  owner, line..., TTL s
# FINISH as 'delivered' for many lines of one owner in one call; returns 1/0 per line.
DELIVERED_MANY = _DELIVER_LINES + """
return deliver_lines(ARGV[1], 2, #ARGV - 1)
"""

# KEYS  every key of the job (Keys.job_keys: job, delivered, failed, claims, rejects, unknown, ...)
# ARGV  lease_ms, owner, n, n delivered lines, lines to claim..., TTL s
# DELIVERED_MANY for the n lines, then CLAIM_MANY for the rest, in one call: the marks of the
# sends that ended go with the next group's claims. They are recorded whatever the job's state.
CLAIM_MANY_AFTER_DELIVERED = _DELIVER_LINES + _CLAIM_LINES + """
local n = tonumber(ARGV[3])
local marked = deliver_lines(ARGV[2], 4, 3 + n)
if marked.err then return marked end
return claim_lines(KEYS[6], tonumber(ARGV[1]), ARGV[2], 4 + n, #ARGV - 1)
"""

# KEYS  claims, unknown, job
# ARGV  line, unknown (1 when the request may have reached the vendor, e.g. a timeout), owner
# Only the owner gives a row back; returns 1 when it did.
RELEASE = _LEASE + """
local lease, owner = lease_of(KEYS[1], ARGV[1])
if lease == 0 or owner ~= ARGV[3] then return 0 end
unhold(KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('HINCRBY', KEYS[3], 'unknown_outcome', 1)
end
return 1
"""

# KEYS  job;  ARGV  reason
# Pauses a loading, running or aborted job (an aborted load still sends what it enqueued; a
# resume takes it back to `aborted`) and keeps why; returns the state after ('gone' without one).
PAUSE = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'gone' end
if state == 'loading' or state == 'running' or state == 'aborted' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'pause_reason', ARGV[1])
  return 'paused'
end
return state
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
    BADLINE = "badline"      # not a line of this job: never sent, never recorded

    @property
    def may_send(self) -> bool:
        return self in (Claim.CLAIMED, Claim.RECLAIMED)


@dataclass(frozen=True)
class Claims:
    """What one claim_many() answered: a stop for the whole job, or a verdict per line."""

    #: PAUSED, CANCELLED or GONE: nothing was claimed; None while the job runs
    stop: Claim | None
    verdicts: dict[int, Claim]
    #: how long the longest lease another owner holds on these lines still runs
    busy_left_s: float = 0.0

    def lines(self, *wanted: Claim) -> list[int]:
        return [line for line, verdict in self.verdicts.items() if verdict in wanted]

    @property
    def claimed(self) -> list[int]:
        """The lines this owner may send now (a reclaimed one may duplicate: counted)."""
        return self.lines(Claim.CLAIMED, Claim.RECLAIMED)


class Ledger:
    def __init__(self, client: redis.Redis, keys: Keys, job_id: str, *, lease_s: float, ttl_s: int | None = None,
                 owner: str | None = None) -> None:
        self._client = client
        #: whose claims these are: unique to this object, so one chunk run never ends another's
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"
        self._all_keys = keys.job_keys(job_id)
        self._job_keys = self._all_keys[:4]  # job, delivered, failed, claims
        self._ttl_s = ttl_s if ttl_s is not None else get_settings().job_ttl_s
        self._unknown = keys.unknown(job_id)
        self._lease_ms = int(lease_s * 1000)
        self._finished = client.register_script(FINISHED)
        self._claim = client.register_script(CLAIM)
        self._claim_many = client.register_script(CLAIM_MANY)
        self._claim_many_after = client.register_script(CLAIM_MANY_AFTER_DELIVERED)
        self._delivered_many = client.register_script(DELIVERED_MANY)
        self._finish = client.register_script(FINISH)
        self._release = client.register_script(RELEASE)
        self._check_done = client.register_script(CHECK_DONE)
        self._pause = client.register_script(PAUSE)

    def finished_lines(self, lines: list[int]) -> set[int]:
        """The lines among these that already have an outcome (one round trip)."""
        if not lines:
            return set()
        _, delivered, failed, _ = self._job_keys
        return {int(line) for line in self._finished(keys=[delivered, failed], args=lines)}

    def claim(self, line: int) -> Claim:
        result = self._claim(keys=[*self._job_keys, self._unknown], args=[line, self._lease_ms, self.owner])
        return Claim(result.decode() if isinstance(result, bytes) else result)

    def claim_many(self, lines: list[int], *, extra_lease_s: float = 0.0, delivered: list[int] | tuple = ()) -> Claims:
        """Claim every line that may be sent, in one round trip. extra_lease_s lengthens these
        leases, e.g. by the wait for the last of the limiter slots reserved for them.
        `delivered`: lines this owner's sends delivered, marked first in the same round trip
        (as delivered_many(), whatever the job's state): a round trip fewer per group of sends."""
        lease_ms = self._lease_ms + int(extra_lease_s * 1000)
        if delivered:
            stop, busy_left_ms, *verdicts = self._claim_many_after(
                keys=self._all_keys, args=[lease_ms, self.owner, len(delivered), *delivered, *lines, self._ttl_s])
        else:
            stop, busy_left_ms, *verdicts = self._claim_many(
                keys=[*self._job_keys, self._unknown], args=[lease_ms, self.owner, *lines])
        stop = stop.decode() if isinstance(stop, bytes) else stop
        if stop:
            return Claims(Claim(stop), {line: Claim(stop) for line in lines})
        verdicts = [Claim(v.decode() if isinstance(v, bytes) else v) for v in verdicts]
        # strict: a verdict more or fewer than lines is a script claiming the wrong arguments
        return Claims(None, dict(zip(lines, verdicts, strict=True)), int(busy_left_ms) / 1000)

    def delivered(self, line: int) -> bool:
        return bool(self._finish(keys=self._all_keys, args=[line, "delivered", "", self.owner, self._ttl_s]))

    def delivered_many(self, lines: list[int]) -> list[bool]:
        """delivered() for many lines in one round trip: True for each line this call recorded."""
        if not lines:
            return []
        recorded = self._delivered_many(keys=self._all_keys, args=[self.owner, *lines, self._ttl_s])
        return [bool(done) for done in recorded]

    def failed(self, line: int, fields: dict, *, reason: str, outcome: str = "failed", wire: list | None = None,
               unclaimed_only: bool = False) -> bool:
        """Record a row's failure: its fields (for the report), the reason, and its chunk form (to retry it).

        unclaimed_only: for rows this worker is not sending (cancel, giving up): a row any
        worker holds under a live lease is left to that worker's outcome. Without it, only
        another owner's live lease stops the outcome being recorded.
        """
        record = json.dumps({**fields, "line": line, "reason": reason, "wire": wire}, ensure_ascii=False)
        args = [line, outcome, record, "" if unclaimed_only else self.owner, self._ttl_s]
        return bool(self._finish(keys=self._all_keys, args=args))

    def job_state(self) -> str:
        """The job's state, 'gone' once its keys expired."""
        state = self._client.hget(self._job_keys[0], "state")
        return state.decode() if state else "gone"

    def stopped(self) -> bool:
        """Paused, cancelled or gone: a worker waiting for a slot should stop waiting."""
        return self.job_state() in ("paused", "cancelled", "gone")

    def release(self, line: int, *, unknown_outcome: bool) -> bool:
        """Give the row back as pending; mark it when the vendor may have applied it anyway.
        Only this owner's claim is given back: False when the row was not (or no longer) ours."""
        job, _, _, claims = self._job_keys
        return bool(self._release(keys=[claims, self._unknown, job], args=[line, int(unknown_outcome), self.owner]))

    def pause(self, reason: str) -> str:
        """Pause a loading or running job, keeping why (shown by `job status`); the state after."""
        state = self._pause(keys=[self._job_keys[0]], args=[reason[:500]])
        return state.decode() if isinstance(state, bytes) else state

    def line_limit(self) -> int | None:
        """The highest line a row of this job can have; None once the job is gone."""
        job = self._job_keys[0]
        last_line, state = self._client.hmget(job, "last_line", "state")
        if state is None:
            return None
        return int(last_line) if last_line is not None else DEFAULT_MAX_LINE

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
