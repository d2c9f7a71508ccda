"""Chunks waiting for a retry, kept in Redis rather than as ETA messages in worker memory.

Celery holds countdown/ETA messages in the worker that fetched them (and Redis redelivers
them after the visibility timeout), so thousands of retrying chunks would pile up there.
Instead a chunk to retry goes into a sorted set scored by its due time; a mover thread in
every worker publishes the due ones. The mover first pushes an entry's score forward (a
lease), publishes, then removes it: a mover that dies in between only causes a second
publish, which the job ledger makes harmless.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from typing import Callable

import redis

log = logging.getLogger(__name__)

# KEYS[1]  deferred sorted set
# ARGV[1]  max entries;  ARGV[2]  lease, s: how long before an unacknowledged entry is due again
# returns  the due entries, now leased to this caller
TAKE_DUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), member)
end
return due
"""

NOW = "local t = redis.call('TIME') return tonumber(t[1]) + tonumber(t[2]) / 1000000"


def encode_entry(task_name: str, kwargs: dict, options: dict | None = None) -> str:
    """One member of the deferred set; the nonce keeps two equal chunks apart."""
    return json.dumps({"task": task_name, "kwargs": kwargs, "options": options or {}, "nonce": secrets.token_hex(6)})


class DeferredQueue:
    def __init__(self, client: redis.Redis, key: str) -> None:
        self._r = client
        self._key = key
        self._take_due = client.register_script(TAKE_DUE)

    def add(self, task_name: str, kwargs: dict, *, delay_s: float, options: dict | None = None) -> None:
        """`options` go to the publish call as they are (e.g. task_id, retries of a single operation)."""
        entry = encode_entry(task_name, kwargs, options)
        now = float(self._r.eval(NOW, 0))  # Redis' clock, the one TAKE_DUE compares with
        self._r.zadd(self._key, {entry: now + delay_s})

    def move_due(self, publish: Callable[..., None], *, limit: int = 100, lease_s: float = 60.0) -> int:
        entries = self._take_due(keys=[self._key], args=[limit, lease_s])
        for raw in entries:
            entry = json.loads(raw)
            publish(entry["task"], entry["kwargs"], **entry.get("options", {}))
            self._r.zrem(self._key, raw)
        return len(entries)

    def __len__(self) -> int:
        return self._r.zcard(self._key)


class Mover(threading.Thread):
    """Publishes due entries every `interval_s` until stopped; survives Redis hiccups."""

    def __init__(self, queue: DeferredQueue, publish: Callable[[str, dict], None], *, interval_s: float = 0.5) -> None:
        super().__init__(name="telequeue-deferred-mover", daemon=True)
        self._queue = queue
        self._publish = publish
        self._interval_s = interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                while self._queue.move_due(self._publish) and not self._stop_event.is_set():
                    pass
            except Exception:  # keep moving after a broker or Redis blip
                log.exception("deferred mover: publishing due chunks failed; will retry")
            self._stop_event.wait(self._interval_s)

    def stop(self) -> None:
        self._stop_event.set()
