"""A worker process's liveness record in Redis: who it is and which task messages it holds.

Written every beat by workers.recovery.heartbeat under Keys.worker(id) with a TTL of
worker_dead_after_s, and scored in Keys.workers(); readers (Flower's Jobs page, deploy
metrics) treat a missing record as "no such live worker" and ignore fields they do not know.
The worker id is "<hostname>:<pid of the worker's main process>".
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any, Callable, Iterable

import redis

from workers.redis.keys import Keys

#: ids of workers not seen for this long leave the Keys.workers() set (their records expired long ago)
FORGET_AFTER_S = 3600.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def held_requests() -> list[Any]:
    """Every task message this process holds unacked: waiting for a pool slot, running, or
    waiting for its ETA (celery.worker.state, kept by the worker's main process for every pool)."""
    # lazy: celery.worker costs ~70 ms (measured) to every process that imports workers.app,
    # the CLI's `send` and `load` included; only a worker calls this
    from celery.worker import state

    sets = [state.reserved_requests, state.active_requests, getattr(state, "scheduled_requests", ())]
    for _ in range(10):
        try:  # pool threads finish tasks meanwhile: a set may change size while we copy it
            found = {id(req): req for req in (*list(state.requests.values()), *(r for s in sets for r in list(s)))}
            return list(found.values())
        except RuntimeError:
            time.sleep(0.001)
    raise RuntimeError("the worker's request sets kept changing while being read")


def delivery_tag(request: Any) -> str | None:
    message = getattr(request, "message", None)
    tag = getattr(message, "delivery_tag", None)
    return None if tag is None else str(tag)


class Liveness:
    """The record of one worker process; `beat` rewrites it, `retire` removes it at shutdown."""

    def __init__(self, client: redis.Redis, keys: Keys, *, worker: str, queues: Callable[[], list[str]],
                 dead_after_s: float, clock: Callable[[], float] = time.time) -> None:
        self._r = client
        self._keys = keys
        self.worker = worker
        self._queues = queues
        self._ttl_ms = int(dead_after_s * 1000)
        self._clock = clock
        self._started_at = clock()
        #: task id -> when this process first saw it, for tasks still waiting for a pool slot
        self._first_seen: dict[str, float] = {}

    def record(self, requests: Iterable[Any]) -> dict[str, Any]:
        now = self._clock()
        held = [self._held(req, now) for req in requests]
        self._first_seen = {entry["task_id"]: self._first_seen.get(entry["task_id"], now) for entry in held}
        host, _, pid = self.worker.rpartition(":")
        return {"id": self.worker, "host": host, "pid": int(pid), "queues": sorted(self._queues()),
                "started_at": self._started_at, "seen_at": now, "held": held}

    def beat(self, requests: Iterable[Any]) -> dict[str, Any]:
        record = self.record(requests)
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._keys.worker(self.worker), json.dumps(record), px=self._ttl_ms)
        pipe.zadd(self._keys.workers(), {self.worker: record["seen_at"]})
        pipe.zremrangebyscore(self._keys.workers(), "-inf", record["seen_at"] - FORGET_AFTER_S)
        pipe.execute()
        return record

    def retire(self) -> None:
        """A clean shutdown: nothing held any more, so no reader should count this worker."""
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self._keys.worker(self.worker))
        pipe.zrem(self._keys.workers(), self.worker)
        pipe.execute()

    def _held(self, req: Any, now: float) -> dict[str, Any]:
        kwargs = req.kwargs if isinstance(getattr(req, "kwargs", None), dict) else {}
        rows = kwargs.get("rows")
        delivery = getattr(req, "delivery_info", None) or {}
        return {
            "task_id": req.id,
            "task": req.name,
            "queue": delivery.get("routing_key"),
            "job_id": kwargs.get("job_id") if isinstance(kwargs.get("job_id"), str) else None,
            "rows": len(rows) if isinstance(rows, list) else None,
            # when it started running; until then, when this process first saw it
            "started_at": getattr(req, "time_start", None) or self._first_seen.get(req.id, now),
        }
