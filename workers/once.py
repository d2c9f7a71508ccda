"""The per-task ledger of non-idempotent single operations (the protocol tasks/once.py uses).

One hash per task id, with a TTL: state (sending, checking, cleared, unknown, sent, failed,
unknown_final), the attempt (Celery `retries`) that owns it, a lease while a run sends or
checks, the first send time (reconciliation looks from there on) and the recorded result.
Times are Redis' clock, shared by every host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

NOW_MS = "local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

# KEYS[1] the task's hash
# ARGV[1] attempt of this run;  ARGV[2] lease, ms;  ARGV[3] TTL, s
# returns {verdict, sent_at_ms, result JSON or wait ms}
ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local attempt, lease, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rec = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'lease_until', 'sent_at', 'result')
local state = rec[1]
if not state then
  redis.call('HSET', KEYS[1], 'state', 'sending', 'attempt', attempt, 'lease_until', now + lease, 'sent_at', now)
  redis.call('EXPIRE', KEYS[1], ttl)
  return {'send', tostring(now), ''}
end
if state == 'sent' then return {'sent', rec[4] or '0', rec[5] or 'null'} end
if state == 'failed' or state == 'unknown_final' then return {'stale', '0', ''} end
if tonumber(rec[2]) > attempt then return {'stale', '0', ''} end
local lease_until = tonumber(rec[3] or '0')
if (state == 'sending' or state == 'checking') and lease_until > now then
  return {'busy', '0', tostring(lease_until - now)}
end
redis.call('HSET', KEYS[1], 'attempt', attempt, 'lease_until', now + lease)
if state == 'cleared' then
  redis.call('HSET', KEYS[1], 'state', 'sending')
  if not rec[4] then redis.call('HSET', KEYS[1], 'sent_at', now) end
  return {'send', rec[4] or tostring(now), ''}
end
redis.call('HSET', KEYS[1], 'state', 'checking')
return {'check', rec[4] or tostring(now), ''}
"""


@dataclass(frozen=True)
class Entry:
    verdict: str  # send | sent | busy | stale | check
    sent_at_s: float = 0.0
    result: Any = None
    wait_s: float = 0.0


class OnceLedger:
    def __init__(self, client: redis.Redis, keys: Any, *, ttl_s: int) -> None:
        self._r, self._keys, self._ttl_s = client, keys, ttl_s
        self._enter = client.register_script(ENTER)

    def enter(self, task_id: str, *, attempt: int, lease_s: float) -> Entry:
        verdict, sent_at, extra = (
            x.decode() if isinstance(x, bytes) else str(x)
            for x in self._enter(keys=[self._keys.once(task_id)], args=[attempt, int(lease_s * 1000), self._ttl_s]))
        sent_at_s = int(sent_at) / 1000
        if verdict == "sent":
            return Entry(verdict, sent_at_s, json.loads(extra))
        if verdict == "busy":
            return Entry(verdict, wait_s=int(extra) / 1000)
        return Entry(verdict, sent_at_s)

    def sent_entry(self, task_id: str) -> Entry | None:
        state, sent_at, result = self._r.hmget(self._keys.once(task_id), "state", "sent_at", "result")
        if state != b"sent":
            return None
        return Entry("sent", int(sent_at or 0) / 1000, json.loads(result or b"null"))

    def resend(self, task_id: str, *, lease_s: float) -> None:
        """The check proved the earlier send was not applied: this run sends (sent_at stays the first)."""
        self._set(task_id, state="sending", extend_lease_s=lease_s)

    def handoff(self, task_id: str, *, attempt: int, unknown: bool) -> None:
        """The next attempt owns the task id; `unknown`: it checks before sending."""
        self._set(task_id, state="unknown" if unknown else "cleared", attempt=attempt, lease_until=0)

    def sent(self, task_id: str, result: Any) -> None:
        self._set(task_id, state="sent", result=json.dumps(result))

    def failed(self, task_id: str) -> None:
        self._set(task_id, state="failed")

    def unknown(self, task_id: str) -> None:
        self._set(task_id, state="unknown_final")

    def state(self, task_id: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self._r.hgetall(self._keys.once(task_id)).items()}

    def _set(self, task_id: str, *, extend_lease_s: float | None = None, **fields: Any) -> None:
        key = self._keys.once(task_id)
        pipe = self._r.pipeline()
        if extend_lease_s is not None:
            now_ms = int(self._r.eval(NOW_MS, 0))
            fields["lease_until"] = now_ms + int(extend_lease_s * 1000)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, self._ttl_s)
        pipe.execute()
