"""Pause, resume, cancel and retry-failed: job control for the CLI and for other apps.

Chunks of a paused job are parked in Redis by the workers (see workers.runtime.PARK) and
published again on resume; chunks of a cancelled job mark their rows `cancelled`. Neither
holds a worker, and no row changes hands without the ledger knowing.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import redis

from workers.jobs import JobStore
from workers.keys import Keys
from workers.kinds import kind_of

Publish = Callable[[str, dict], None]


class JobStateError(RuntimeError):
    """The job is not in a state this command applies to."""


class JobControl:
    def __init__(self, client: redis.Redis, keys: Keys, publish: Publish) -> None:
        self._r = client
        self._keys = keys
        self._store = JobStore(client, keys)
        self._publish = publish

    def pause(self, job_id: str) -> None:
        before = self._store.transition(job_id, "paused", allowed_from=("loading", "running"))
        if before not in ("loading", "running", "paused"):
            raise JobStateError(f"job {job_id} is {before}: only a loading or running job can be paused")

    def resume(self, job_id: str) -> int:
        """Back to work; returns how many parked chunks were published again."""
        state = self._store.status(job_id)
        to = "running" if state.produced else "loading"
        before = self._store.transition(job_id, to, allowed_from=("paused",))
        if before not in ("paused", "loading", "running"):
            raise JobStateError(f"job {job_id} is {before}: only a paused job can be resumed")
        return self._drain_parked(job_id)

    def cancel(self, job_id: str) -> int:
        """Stop sending; pending rows end as `cancelled`. Returns parked chunks sent to be marked."""
        before = self._store.transition(job_id, "cancelled", allowed_from=("loading", "running", "paused"))
        if before == "done":
            raise JobStateError(f"job {job_id} is done: nothing to cancel")
        return self._drain_parked(job_id)

    def retry_failed(self, job_id: str, *, chunk_size: int = 100) -> int:
        """Send the failed rows again (not the cancelled or rejected ones); returns how many."""
        status = self._store.status(job_id)
        if status.state not in ("done", "running"):
            raise JobStateError(f"job {job_id} is {status.state}: retry-failed needs a running or done job")
        kind = kind_of(status.kind)
        rows = self._take_failed(job_id)
        params = self._store.params(job_id)
        for start in range(0, len(rows), chunk_size):
            self._publish(kind.task_name, kind.build_chunk(job_id, params, rows[start:start + chunk_size]))
        return len(rows)

    def _take_failed(self, job_id: str) -> list[list]:
        """Turn failed rows back into pending ones, in one transaction with the counters."""
        failed_key, job_key = self._keys.failed(job_id), self._keys.job(job_id)
        records = [json.loads(v) for v in self._r.hvals(failed_key)]
        records = sorted((r for r in records if r["reason"] != "job cancelled"), key=lambda r: r["line"])
        if not records:
            return []
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(failed_key, *(r["line"] for r in records))
        pipe.hincrby(job_key, "failed", -len(records))
        pipe.hset(job_key, "state", "running")
        pipe.hdel(job_key, "finished_at")
        for key in self._keys.job_keys(job_id):
            pipe.persist(key)  # running again: no longer due to expire
        pipe.execute()
        return [r["wire"] for r in records]

    def _drain_parked(self, job_id: str) -> int:
        # Publish, then trim: a crash in between publishes some chunks twice, which the
        # ledger makes harmless, rather than dropping them.
        key = self._keys.parked(job_id)
        entries = self._r.lrange(key, 0, -1)
        for raw in entries:
            entry = json.loads(raw)
            self._publish(entry["task"], entry["kwargs"])
        self._r.ltrim(key, len(entries), -1)
        return len(entries)
