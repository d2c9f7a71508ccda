"""Pause, resume, cancel and retry-failed: job control for the CLI and for other apps.

Chunks of a paused job are parked in Redis by the workers (see workers.runtime.worker_runtime.PARK) and
published again on resume; chunks of a cancelled job mark their rows `cancelled`. Neither
holds a worker, and no row changes hands without the ledger knowing.
"""

from __future__ import annotations

import json

import redis

from workers.jobs.kind import Publish
from workers.jobs.registry import kind_of
from workers.jobs.store import JobStore
from workers.limits.deferred import encode_entry
from workers.redis.keys import Keys


# KEYS  every key of the job (job, delivered, failed, ...), then the deferred sorted set
# ARGV  the chunk's deferred entry, then its lines
# returns how many lines this call took out of `failed`, -1 when the job is not running/done/aborted
# (an aborted load's failed rows may be retried too; the job stays `aborted`)
TAKE_FAILED = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'done' and state ~= 'running' and state ~= 'aborted' then return -1 end
local removed = 0
for i = 2, #ARGV do removed = removed + redis.call('HDEL', KEYS[3], ARGV[i]) end
if removed == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'failed', -removed)
if state ~= 'aborted' then redis.call('HSET', KEYS[1], 'state', 'running') end
redis.call('HDEL', KEYS[1], 'finished_at')
for i = 1, #KEYS - 1 do redis.call('PERSIST', KEYS[i]) end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[#KEYS], tonumber(t[1]) + tonumber(t[2]) / 1000000, ARGV[1])
return removed
"""


class JobStateError(RuntimeError):
    """The job is not in a state this command applies to."""


class JobControl:
    def __init__(self, client: redis.Redis, keys: Keys, publish: Publish) -> None:
        self._r = client
        self._keys = keys
        self._store = JobStore(client, keys)
        self._publish = publish
        self._take_failed = client.register_script(TAKE_FAILED)

    def pause(self, job_id: str) -> None:
        # An aborted job still sends the rows its load enqueued, until it has finished.
        from_ = ("loading", "running") if self._store.status(job_id).finished else ("loading", "running", "aborted")
        before = self._store.transition(job_id, "paused", allowed_from=from_)
        if before not in (*from_, "paused"):
            raise JobStateError(f"job {job_id} is {before}: only a loading or running job can be paused")

    def resume(self, job_id: str) -> int:
        """Back to work; returns how many parked chunks were published again."""
        before = self._store.unpause(job_id)
        if before not in ("paused", "loading", "running", "aborted"):
            raise JobStateError(f"job {job_id} is {before}: only a paused job can be resumed")
        self._r.hdel(self._keys.job(job_id), "pause_reason")  # the operator has dealt with it
        return self._drain_parked(job_id)

    def cancel(self, job_id: str) -> int:
        """Stop sending; pending rows end as `cancelled`. Returns parked chunks sent to be marked."""
        before = self._store.transition(job_id, "cancelled",
                                        allowed_from=("loading", "running", "paused", "aborted"))
        if before == "done":
            raise JobStateError(f"job {job_id} is done: nothing to cancel")
        # The state is `cancelled` before any parked chunk goes out: workers mark their rows, never send them.
        return self._drain_parked(job_id)

    def retry_failed(self, job_id: str, *, chunk_size: int = 100) -> int:
        """Send the failed rows again (not the cancelled or rejected ones); returns how many.

        Each chunk's rows leave `failed` and enter the deferred set in one atomic script, so two
        retries at once cannot count a row twice, and a crash cannot leave rows with no message.
        """
        status = self._store.status(job_id)
        if status.state not in ("done", "running", "aborted"):
            raise JobStateError(f"job {job_id} is {status.state}: retry-failed needs a running, done or aborted job")
        kind = kind_of(status.kind)
        params = self._store.params(job_id)
        records = [json.loads(v) for v in self._r.hvals(self._keys.failed(job_id))]
        records = sorted((r for r in records if r["reason"] != "job cancelled"), key=lambda r: r["line"])
        taken = 0
        for start in range(0, len(records), chunk_size):
            batch = records[start:start + chunk_size]
            entry = encode_entry(kind.task_name, kind.build_chunk(job_id, params, [r["wire"] for r in batch]))
            taken += max(0, self._take_failed(keys=[*self._keys.job_keys(job_id), self._keys.deferred()],
                                              args=[entry, *(r["line"] for r in batch)]))
        return taken

    def _drain_parked(self, job_id: str) -> int:
        """Publish a paused job's parked chunks, each moved to an in-flight list first: a
        drain that dies mid-way loses nothing (the next one publishes its leftovers again,
        which the ledger makes harmless), and two drains never trim each other's entries."""
        parked, inflight = self._keys.parked(job_id), self._keys.parked_inflight(job_id)
        while self._r.lmove(inflight, parked, "RIGHT", "LEFT") is not None:
            pass
        count = 0
        while (raw := self._r.lmove(parked, inflight, "LEFT", "RIGHT")) is not None:
            count += self._publish_parked(inflight, raw)
        # An LMOVE retried after a dropped reply (Redis restarted) moved one entry twice: the
        # first one waits here. Another drain's entries may too: publishing them again is harmless.
        for raw in self._r.lrange(inflight, 0, -1):
            count += self._publish_parked(inflight, raw)
        return count

    def _publish_parked(self, inflight: str, raw: bytes) -> int:
        entry = json.loads(raw)
        self._publish(entry["task"], entry["kwargs"])
        return self._r.lrem(inflight, 1, raw)
