"""The per-task ledger of non-idempotent single operations (the protocol tasks/once.py uses).

One hash per task id, with a TTL: state (sending, checking, cleared, unknown, sent, failed,
unknown_final), the attempt (Celery `retries`) that owns it, the run token of the run that owns
it (a random id per run, given by ENTER), a lease while a run sends or checks, the first send
time (reconciliation looks from there on) and the recorded result. Times are Redis' clock,
shared by every host.

Every later write of a run (renew, clear, sent, handoff, failed, unknown) is a compare-and-set
on its run token and attempt: a run that another one took over from (its lease lapsed) changes
nothing, so two runs can never both go on to send. A replayed ENTER (redis-py retrying a script
whose reply was lost) carries the same token and gets its own decision back, not "busy".
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import redis

# KEYS[1] the task's hash
# ARGV[1] attempt of this run;  ARGV[2] lease, ms;  ARGV[3] TTL, s;  ARGV[4] run token
# returns {verdict, sent_at_ms, result JSON or wait ms}
ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local attempt, lease, ttl, run = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local rec = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'lease_until', 'sent_at', 'result', 'run')
local state = rec[1]
if not state then
  redis.call('HSET', KEYS[1], 'state', 'sending', 'attempt', attempt, 'lease_until', now + lease, 'sent_at', now,
             'run', run)
  redis.call('EXPIRE', KEYS[1], ttl)
  return {'send', tostring(now), ''}
end
if state == 'sent' then return {'sent', rec[4] or '0', rec[5] or 'null'} end
if state == 'failed' or state == 'unknown_final' then return {'stale', '0', ''} end
if tonumber(rec[2]) > attempt then return {'stale', '0', ''} end
if rec[6] == run and tonumber(rec[2]) == attempt and (state == 'sending' or state == 'checking') then
  -- this very run entered before (a replayed script): its own decision, not busy
  return {state == 'sending' and 'send' or 'check', rec[4] or tostring(now), ''}
end
local lease_until = tonumber(rec[3] or '0')
if (state == 'sending' or state == 'checking') and lease_until > now then
  return {'busy', '0', tostring(lease_until - now)}
end
redis.call('HSET', KEYS[1], 'attempt', attempt, 'lease_until', now + lease, 'run', run)
if state == 'cleared' then
  redis.call('HSET', KEYS[1], 'state', 'sending')
  if not rec[4] then redis.call('HSET', KEYS[1], 'sent_at', now) end
  return {'send', rec[4] or tostring(now), ''}
end
redis.call('HSET', KEYS[1], 'state', 'checking')
return {'check', rec[4] or tostring(now), ''}
"""

# KEYS[1] the task's hash
# ARGV[1] run token;  ARGV[2] attempt;  ARGV[3] TTL, s;  ARGV[4] states allowed now (",sending,checking,")
# ARGV[5] lease, ms (-1: leave it);  ARGV[6..] field, value pairs to set
# returns 1 when this run still owns the task id (and the fields were set), else 0
OWN = """
local rec = redis.call('HMGET', KEYS[1], 'run', 'attempt', 'state')
if rec[1] ~= ARGV[1] or tonumber(rec[2]) ~= tonumber(ARGV[2]) then return 0 end
if not string.find(ARGV[4], ',' .. rec[3] .. ',', 1, true) then return 0 end
local lease = tonumber(ARGV[5])
if lease >= 0 then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'lease_until', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + lease)
end
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

#: the states in which a run holds the task id (ENTER answered it send or check)
HELD = ",sending,checking,"


@dataclass(frozen=True)
class Entry:
    verdict: str  # send | sent | busy | stale | check
    sent_at_s: float = 0.0
    result: Any = None
    wait_s: float = 0.0
    #: this run's token: every later write of the run names it (compare-and-set)
    run: str = ""


class OnceLedger:
    def __init__(self, client: redis.Redis, keys: Any, *, ttl_s: int) -> None:
        self._r, self._keys, self._ttl_s = client, keys, ttl_s
        self._enter = client.register_script(ENTER)
        self._own = client.register_script(OWN)

    def enter(self, task_id: str, *, attempt: int, lease_s: float, run: str | None = None) -> Entry:
        """`run`: this run's token (a new one when None); the same token entering again gets the same verdict."""
        run = run or uuid.uuid4().hex
        verdict, sent_at, extra = (
            x.decode() if isinstance(x, bytes) else str(x)
            for x in self._enter(keys=[self._keys.once(task_id)],
                                 args=[attempt, int(lease_s * 1000), self._ttl_s, run]))
        sent_at_s = int(sent_at) / 1000
        if verdict == "sent":
            return Entry(verdict, sent_at_s, json.loads(extra))
        if verdict == "busy":
            return Entry(verdict, wait_s=int(extra) / 1000)
        return Entry(verdict, sent_at_s, run=run)

    def sent_entry(self, task_id: str) -> Entry | None:
        state, sent_at, result = self._r.hmget(self._keys.once(task_id), "state", "sent_at", "result")
        if state != b"sent":
            return None
        return Entry("sent", int(sent_at or 0) / 1000, json.loads(result or b"null"))

    def renew(self, task_id: str, run: str, *, attempt: int, lease_s: float) -> bool:
        """Just before sending: True when this run still owns the task id, whose lease now runs
        `lease_s` from here (state sending). False: another run took over; send nothing."""
        return self._cas(task_id, run, attempt, lease_s=lease_s, state="sending")

    def clear(self, task_id: str, run: str, *, attempt: int) -> bool:
        """The check proved the earlier send was not applied: the next run of this attempt sends."""
        return self._cas(task_id, run, attempt, allowed=",checking,", lease_s=0, state="cleared")

    def handoff(self, task_id: str, run: str, *, attempt: int, next_attempt: int, unknown: bool) -> bool:
        """The next attempt owns the task id; `unknown`: it checks before sending."""
        return self._cas(task_id, run, attempt, lease_s=0,
                         fields={"state": "unknown" if unknown else "cleared", "attempt": next_attempt, "run": ""})

    def sent(self, task_id: str, run: str, result: Any, *, attempt: int) -> bool:
        return self._cas(task_id, run, attempt, state="sent", result=json.dumps(result))

    def failed(self, task_id: str, run: str, *, attempt: int) -> bool:
        return self._cas(task_id, run, attempt, state="failed")

    def unknown(self, task_id: str, run: str, *, attempt: int) -> bool:
        return self._cas(task_id, run, attempt, state="unknown_final")

    def state(self, task_id: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self._r.hgetall(self._keys.once(task_id)).items()}

    def _cas(self, task_id: str, run: str, attempt: int, *, allowed: str = HELD, lease_s: float | None = None,
             fields: dict[str, Any] | None = None, **more: Any) -> bool:
        fields = {**(fields or {}), **more}
        lease_ms = -1 if lease_s is None else int(lease_s * 1000)
        pairs = [str(x) for item in fields.items() for x in item]
        return bool(self._own(keys=[self._keys.once(task_id)],
                              args=[run, attempt, self._ttl_s, allowed, lease_ms, *pairs]))
