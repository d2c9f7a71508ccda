"""Jobs in Redis: parameters, state and counters, plus the rows that did not go through.

Counters add up by construction: total = valid + rejected, and a job is done when
delivered + failed + cancelled = valid (see workers.ledger). pending is derived, never stored.
"""

from __future__ import annotations

import heapq
import json
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields

import redis

from workers.keys import Keys
from workers.settings import get_settings
from workers.ledger import _MAYBE_DONE

# KEYS every key of the job, job first;  ARGV[1] TTL s.
# A pause or cancel that came in while loading must survive the end of loading.
PRODUCED = _MAYBE_DONE + """
redis.call('HSET', KEYS[1], 'produced', 1)
if redis.call('HGET', KEYS[1], 'state') == 'loading' then redis.call('HSET', KEYS[1], 'state', 'running') end
maybe_done(KEYS[1])
return 1
"""

# KEYS every key of the job, job first;  ARGV[1] reason, ARGV[2] TTL s.
# The producer failed: what was enqueued is still sent, and the job can end, as `aborted`.
ABORTED = _MAYBE_DONE + """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'loading' or state == 'running' or state == 'paused' then redis.call('HSET', KEYS[1], 'state', 'aborted') end
redis.call('HSET', KEYS[1], 'produced', 1, 'error', ARGV[1])
maybe_done(KEYS[1])
return 1
"""

# KEYS[1] job;  ARGV[1] new state;  ARGV[2..] states it may come from
# returns the state before, and changes it only when that was one of ARGV[2..]
TRANSITION = """
local before = redis.call('HGET', KEYS[1], 'state')
if not before then return false end
for i = 2, #ARGV do
  if before == ARGV[i] then redis.call('HSET', KEYS[1], 'state', ARGV[1]) return before end
end
return before
"""

# KEYS[1] job;  ARGV[1] a line read.  last_line only grows (a caller's rows may come in any order).
RAISE_LAST_LINE = """
if tonumber(ARGV[1]) > (tonumber(redis.call('HGET', KEYS[1], 'last_line')) or 0) then
  redis.call('HSET', KEYS[1], 'last_line', ARGV[1])
end
return 1
"""

COUNTERS = ("total", "valid", "rejected", "delivered", "failed", "cancelled", "unknown_outcome")


@dataclass(frozen=True)
class JobStatus:
    id: str
    kind: str
    vendor: str
    account: str
    target: str
    state: str
    created_at: float
    finished_at: float | None
    produced: bool
    total: int = 0
    valid: int = 0
    rejected: int = 0
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    unknown_outcome: int = 0
    #: why a worker paused the job (an auth error); cleared on resume
    pause_reason: str = ""

    @property
    def pending(self) -> int:
        return self.valid - self.delivered - self.failed - self.cancelled

    @property
    def accounted(self) -> int:
        return self.delivered + self.failed + self.cancelled + self.rejected

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "aborted") and self.produced and self.pending == 0

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["pending"] = self.pending
        return data


class JobNotFound(LookupError):
    pass


class JobStore:
    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_s: int | None = None) -> None:
        self._r = client
        self._keys = keys
        self._ttl_s = ttl_s if ttl_s is not None else get_settings().job_ttl_s
        self._produced = client.register_script(PRODUCED)
        self._aborted = client.register_script(ABORTED)
        self._transition = client.register_script(TRANSITION)

    def create(self, *, kind: str, vendor: str, account: str, target: str, params: dict | None = None) -> str:
        job_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        now = time.time()
        meta = {"id": job_id, "kind": kind, "vendor": vendor, "account": account, "target": target,
                "state": "loading", "created_at": now, "produced": 0, "params": json.dumps(params or {})}
        meta.update({name: 0 for name in COUNTERS})
        pipe = self._r.pipeline()
        pipe.hset(self._keys.job(job_id), mapping=meta)
        pipe.zadd(self._keys.jobs(), {job_id: now})
        pipe.execute()
        return job_id

    def add_rows(self, job_id: str, *, valid: int, rejects: list[dict], last_line: int | None = None) -> None:
        """Count a batch of rows read (valid ones about to be enqueued) and keep its rejects.
        `last_line`: the highest line read so far; the ledger refuses lines above it."""
        pipe = self._r.pipeline()
        key = self._keys.job(job_id)
        if last_line is not None:
            pipe.eval(RAISE_LAST_LINE, 1, key, last_line)
        pipe.hincrby(key, "total", valid + len(rejects))
        pipe.hincrby(key, "valid", valid)
        if rejects:
            pipe.hincrby(key, "rejected", len(rejects))
            pipe.rpush(self._keys.rejects(job_id), *(json.dumps(r, ensure_ascii=False) for r in rejects))
        pipe.execute()

    def mark_produced(self, job_id: str) -> None:
        """Every row is counted and enqueued: from now on the job can finish."""
        self._produced(keys=self._keys.job_keys(job_id), args=[self._ttl_s])

    def abort(self, job_id: str, *, reason: str) -> None:
        self._aborted(keys=self._keys.job_keys(job_id), args=[reason, self._ttl_s])

    def status(self, job_id: str) -> JobStatus:
        raw = self._r.hgetall(self._keys.job(job_id))
        if not raw:
            raise JobNotFound(f"no job {job_id!r}")
        data = {k.decode(): v.decode() for k, v in raw.items()}
        return JobStatus(
            id=data["id"], kind=data["kind"], vendor=data["vendor"], account=data["account"],
            target=data.get("target", ""), state=data["state"], created_at=float(data["created_at"]),
            finished_at=float(data["finished_at"]) if data.get("finished_at") else None,
            produced=data.get("produced") == "1", pause_reason=data.get("pause_reason", ""),
            **{name: int(data.get(name, 0)) for name in COUNTERS},
        )

    def list(self, limit: int = 20) -> list[JobStatus]:
        ids = self._r.zrevrange(self._keys.jobs(), 0, limit - 1)
        return [self.status(i.decode()) for i in ids if self._r.exists(self._keys.job(i.decode()))]

    def params(self, job_id: str) -> dict:
        return json.loads(self._r.hget(self._keys.job(job_id), "params") or "{}")

    def set_state(self, job_id: str, state: str) -> None:
        self._r.hset(self._keys.job(job_id), "state", state)

    def transition(self, job_id: str, to: str, *, allowed_from: tuple[str, ...]) -> str:
        """Move to `to` only from one of `allowed_from`, atomically; returns the state before."""
        before = self._transition(keys=[self._keys.job(job_id)], args=[to, *allowed_from])
        if before is None:
            raise JobNotFound(f"no job {job_id!r}")
        return before.decode()

    def problem_rows(self, job_id: str) -> Iterator[dict]:
        """Failed and rejected rows, in file order, for the operator's report."""
        failed = sorted(
            (json.loads(v) | {"status": "failed"} for v in self._r.hvals(self._keys.failed(job_id))),
            key=lambda row: row["line"],
        )
        for row in failed:
            if row["reason"] == "job cancelled":
                row["status"] = "cancelled"
        return heapq.merge(failed, self._rejects(job_id), key=lambda row: row["line"])

    def _rejects(self, job_id: str, batch: int = 5000) -> Iterator[dict]:
        key = self._keys.rejects(job_id)
        start = 0
        while True:
            chunk = self._r.lrange(key, start, start + batch - 1)
            for raw in chunk:
                yield json.loads(raw) | {"status": "rejected"}
            if len(chunk) < batch:
                return
            start += batch

    def delivered_lines(self, job_id: str, lines: Iterable[int]) -> list[int]:
        pipe = self._r.pipeline(transaction=False)
        lines = list(lines)
        for line in lines:
            pipe.getbit(self._keys.delivered(job_id), line)
        return [line for line, bit in zip(lines, pipe.execute()) if bit]
