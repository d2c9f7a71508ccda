"""Jobs in Redis: parameters, state and counters, plus the rows that did not go through.

Counters add up by construction: total = valid + rejected, and a job is done when
delivered + failed + cancelled = valid (see workers.jobs.ledger). pending is derived, never stored.
"""

from __future__ import annotations

import heapq
import json
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields

import redis

from workers.redis.keys import Keys
from workers.settings import get_settings
from workers.jobs.ledger import _MAYBE_DONE

# KEYS every key of the job, job first;  ARGV[1] producer token ('' = any), ARGV[2] TTL s.
# A pause or cancel that came in while loading must survive the end of loading.
# returns 1, or 0 when the token no longer owns the job (the load was ended as aborted).
PRODUCED = _MAYBE_DONE + """
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'producer') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'produced', 1)
redis.call('HDEL', KEYS[1], 'producer', 'lease_until')
if redis.call('HGET', KEYS[1], 'state') == 'loading' then redis.call('HSET', KEYS[1], 'state', 'running') end
maybe_done(KEYS[1])
return 1
"""

# KEYS every key of the job, job first
# ARGV[1] reason, ARGV[2] '1': only when the producer's lease has lapsed, ARGV[3] producer token
#      ('' = any), ARGV[4] TTL s
# The producer failed or vanished: what was counted is still sent (from the outbox if need be),
# and the job can end, as `aborted`. A paused (or cancelled) job keeps its state and only gains
# the `aborted` flag: it stays resumable, and ends as `aborted` once its rows are done.
# returns 1 when this call ended the load, 0 otherwise
ABORTED = _MAYBE_DONE + """
local job = KEYS[1]
local f = redis.call('HMGET', job, 'state', 'produced', 'producer', 'lease_until')
if not f[1] or f[2] == '1' then return 0 end
if ARGV[3] ~= '' and f[3] ~= ARGV[3] then return 0 end
if ARGV[2] == '1' then
  if not f[3] then return 0 end
  local t = redis.call('TIME')
  if tonumber(f[4] or 0) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then return 0 end
end
if f[1] == 'loading' or f[1] == 'running' then redis.call('HSET', job, 'state', 'aborted') end
redis.call('HSET', job, 'produced', 1, 'aborted', 1, 'error', ARGV[1])
redis.call('HDEL', job, 'producer', 'lease_until')
maybe_done(job)
return 1
"""

# KEYS[1] job, KEYS[2] producing sorted set;  ARGV[1] token, ARGV[2] lease ms, ARGV[3] job id
# returns 1 while the token owns the job's load, 0 once it lost it
REFRESH = """
if redis.call('HGET', KEYS[1], 'producer') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lease_until', until_ms)
redis.call('ZADD', KEYS[2], until_ms / 1000, ARGV[3])
return 1
"""

# KEYS[1] job, KEYS[2] rejects, KEYS[3] outbox, KEYS[4] producing
# ARGV[1] token, ARGV[2] lease ms, ARGV[3] job id, ARGV[4] batch number (1, 2, ... per job),
#      ARGV[5] last line read, ARGV[6] valid rows, ARGV[7] the chunk's outbox entry ('' when none),
#      ARGV[8..] reject records
# Counts a batch of rows and keeps its chunk in the outbox, in one step: every counted row is
# in a published chunk or in the outbox, and `last_line` says where a resumed load goes on.
# Safe to run again after a dropped reply: a batch number already counted is not counted twice.
# returns 'counted', 'again' (already counted), 'lost' (the load was ended as aborted) or 'gap'
# (an earlier batch is missing: Redis lost its last writes, e.g. restarted from an AOF that
# missed its last second)
COUNT = """
if redis.call('HGET', KEYS[1], 'producer') ~= ARGV[1] then return 'lost' end
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lease_until', until_ms)
redis.call('ZADD', KEYS[4], until_ms / 1000, ARGV[3])
local counted = tonumber(redis.call('HGET', KEYS[1], 'batches') or 0)
if counted >= tonumber(ARGV[4]) then return 'again' end
if counted ~= tonumber(ARGV[4]) - 1 then return 'gap' end
local rejects = #ARGV - 7
redis.call('HINCRBY', KEYS[1], 'total', tonumber(ARGV[6]) + rejects)
redis.call('HINCRBY', KEYS[1], 'valid', tonumber(ARGV[6]))
if rejects > 0 then
  redis.call('HINCRBY', KEYS[1], 'rejected', rejects)
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 8))
end
redis.call('HSET', KEYS[1], 'batches', ARGV[4], 'last_line', ARGV[5])
if ARGV[7] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[7]) end
return 'counted'
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

# KEYS[1] job;  returns the state before; a paused job goes back to where it was: `aborted` when
# its load ended early meanwhile, else `running` or `loading`.
UNPAUSE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'aborted', 'produced')
if f[1] ~= 'paused' then return f[1] end
local to = 'loading'
if f[2] == '1' then to = 'aborted' elseif f[3] == '1' then to = 'running' end
redis.call('HSET', KEYS[1], 'state', to)
return 'paused'
"""

# KEYS every key of the job, job first, then the producing sorted set
# ARGV[1] new producer token, ARGV[2] lease ms, ARGV[3] job id
# A new producer takes over a load that ended early (`telequeue load ... --resume JOB`).
# returns 'resumed', or why not: 'gone', 'loading' (a live producer holds it), 'complete'
# (the whole file was read), 'cancelled'
RESUME_LOAD = """
local job = KEYS[1]
local f = redis.call('HMGET', job, 'state', 'produced', 'aborted', 'producer')
if not f[1] then return 'gone' end
if f[4] == ARGV[1] then return 'resumed' end  -- this very call, run again after a dropped reply
if f[2] ~= '1' then return 'loading' end
if f[3] ~= '1' then return 'complete' end
if f[1] == 'cancelled' then return 'cancelled' end
if f[1] ~= 'paused' then redis.call('HSET', job, 'state', 'loading') end
redis.call('HSET', job, 'produced', 0, 'producer', ARGV[1])
redis.call('HDEL', job, 'aborted', 'error', 'finished_at')
for i = 1, #KEYS - 1 do redis.call('PERSIST', KEYS[i]) end
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('HSET', job, 'lease_until', until_ms)
redis.call('ZADD', KEYS[#KEYS], until_ms / 1000, ARGV[3])
return 'resumed'
"""

# KEYS[1] producing sorted set;  ARGV[1] max ids;  returns ids whose producer lease has lapsed
LAPSED = """
local t = redis.call('TIME')
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(t[1]) + tonumber(t[2]) / 1000000,
                  'LIMIT', 0, tonumber(ARGV[1]))
"""

# KEYS[1] job, KEYS[2] outbox, KEYS[3] producing;  ARGV[1] job id
# Forgets a load once it ended and its outbox is empty (a resumed load stays).
FORGET = """
if redis.call('HGET', KEYS[1], 'producer') or redis.call('LLEN', KEYS[2]) > 0 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
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
    #: the load stopped before the end of its input (see `error`); `--resume` can go on from `last_line`
    aborted: bool = False
    error: str = ""
    #: every row up to this line of the input is counted and enqueued
    last_line: int = 0
    #: batches of rows the producer counted so far
    batches: int = 0
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
        self._refresh = client.register_script(REFRESH)
        self._count = client.register_script(COUNT)
        self._unpause = client.register_script(UNPAUSE)
        self._resume_load = client.register_script(RESUME_LOAD)
        self._lapsed = client.register_script(LAPSED)
        self._forget = client.register_script(FORGET)

    def create(self, *, kind: str, vendor: str, account: str, target: str, params: dict | None = None,
               producer: str = "", lease_s: float | None = None, source: dict | None = None) -> str:
        """A new job in `loading`. With a `producer` token the load holds a lease (see refresh()):
        should the producer vanish, whoever reads the job after the lease lapsed ends it as aborted."""
        job_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        now = time.time()
        meta = {"id": job_id, "kind": kind, "vendor": vendor, "account": account, "target": target,
                "state": "loading", "created_at": now, "produced": 0, "params": json.dumps(params or {})}
        if source is not None:
            meta["source"] = json.dumps(source, ensure_ascii=False)
        if producer:
            meta["producer"] = producer
        meta.update({name: 0 for name in COUNTERS})
        pipe = self._r.pipeline()
        pipe.hset(self._keys.job(job_id), mapping=meta)
        pipe.zadd(self._keys.jobs(), {job_id: now})
        if producer:
            self._refresh(keys=[self._keys.job(job_id), self._keys.producing()],
                          args=[producer, self._lease_ms(lease_s), job_id], client=pipe)
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

    # ---- the producer's side of a load: lease, counting with the outbox, end ----------------------

    def count_rows(self, job_id: str, producer: str, *, batch: int, last_line: int, valid: int,
                   rejects: list[dict], entry: str = "", lease_s: float | None = None) -> str:
        """Count batch number `batch` (rows read through `last_line`) and put its chunk (`entry`,
        see workers.limits.deferred.encode_entry) in the job's outbox, atomically; renews the lease.
        Returns 'counted', 'again' (counted before: a retried call), 'lost' or 'gap' (see COUNT)."""
        result = self._count(
            keys=[self._keys.job(job_id), self._keys.rejects(job_id), self._keys.outbox(job_id),
                  self._keys.producing()],
            args=[producer, self._lease_ms(lease_s), job_id, batch, last_line, valid, entry,
                  *(json.dumps(r, ensure_ascii=False) for r in rejects)])
        return result.decode()

    def sent(self, job_id: str, entry: str) -> None:
        """The outbox entry is on the broker now."""
        self._r.lrem(self._keys.outbox(job_id), 1, entry)

    def refresh(self, job_id: str, producer: str, *, lease_s: float | None = None) -> bool:
        """Renew the producer's lease; False once the load was ended without it."""
        return bool(self._refresh(keys=[self._keys.job(job_id), self._keys.producing()],
                                  args=[producer, self._lease_ms(lease_s), job_id]))

    def mark_produced(self, job_id: str, producer: str = "") -> bool:
        """Every row is counted and enqueued: from now on the job can finish. False when
        `producer` lost the load meanwhile (it was ended as aborted)."""
        done = bool(self._produced(keys=self._keys.job_keys(job_id), args=[producer, self._ttl_s]))
        if done:
            self.forget_load(job_id)
        return done

    def abort(self, job_id: str, *, reason: str, producer: str = "") -> bool:
        """The load stops early: rows counted so far still go out, and the job can end."""
        ended = bool(self._aborted(keys=self._keys.job_keys(job_id), args=[reason, "0", producer, self._ttl_s]))
        # Due at once: a worker sends what the outbox still holds, then forgets the load.
        self._r.zadd(self._keys.producing(), {job_id: 0})
        return ended

    def end_if_lapsed(self, job_id: str) -> bool:
        """End the load as aborted when its producer's lease has lapsed (killed, host lost)."""
        reason = "loading stopped: the producer vanished (its lease lapsed); `telequeue load ... --resume` goes on"
        return bool(self._aborted(keys=self._keys.job_keys(job_id), args=[reason, "1", "", self._ttl_s]))

    def resume_load(self, job_id: str, producer: str, *, lease_s: float | None = None) -> str:
        """Take over a load that ended early; see RESUME_LOAD for the answers."""
        self.end_if_lapsed(job_id)
        keys = [*self._keys.job_keys(job_id), self._keys.producing()]
        return self._resume_load(keys=keys, args=[producer, self._lease_ms(lease_s), job_id]).decode()

    def lapsed_loads(self, limit: int = 100) -> list[str]:
        """Loads whose producer lease lapsed, or that ended with chunks left in their outbox."""
        return [i.decode() for i in self._lapsed(keys=[self._keys.producing()], args=[limit])]

    def outbox(self, job_id: str) -> list[str]:
        return [raw.decode() for raw in self._r.lrange(self._keys.outbox(job_id), 0, -1)]

    def forget_load(self, job_id: str) -> bool:
        return bool(self._forget(keys=[self._keys.job(job_id), self._keys.outbox(job_id), self._keys.producing()],
                                 args=[job_id]))

    def source(self, job_id: str) -> dict:
        """What the job was loaded from (file name, a hash of its start, reading options)."""
        return json.loads(self._r.hget(self._keys.job(job_id), "source") or "{}")

    @staticmethod
    def _lease_ms(lease_s: float | None) -> int:
        return int(1000 * (lease_s if lease_s is not None else get_settings().producer_lease_s))

    def unpause(self, job_id: str) -> str:
        """paused -> where it was (aborted, running or loading), atomically; returns the state before."""
        before = self._unpause(keys=[self._keys.job(job_id)])
        if before is None:
            raise JobNotFound(f"no job {job_id!r}")
        return before.decode()

    def status(self, job_id: str) -> JobStatus:
        """The job's counters; a load whose producer vanished is ended as aborted on the way."""
        data = self._read(job_id)
        if data.get("producer") and self.end_if_lapsed(job_id):
            data = self._read(job_id)
        return JobStatus(
            id=data["id"], kind=data["kind"], vendor=data["vendor"], account=data["account"],
            target=data.get("target", ""), state=data["state"], created_at=float(data["created_at"]),
            finished_at=float(data["finished_at"]) if data.get("finished_at") else None,
            produced=data.get("produced") == "1", pause_reason=data.get("pause_reason", ""),
            **{name: int(data.get(name, 0)) for name in COUNTERS},
            aborted=data.get("aborted") == "1", error=data.get("error", ""), last_line=int(data.get("last_line", 0)),
            batches=int(data.get("batches", 0)),
        )

    def _read(self, job_id: str) -> dict[str, str]:
        raw = self._r.hgetall(self._keys.job(job_id))
        if not raw:
            raise JobNotFound(f"no job {job_id!r}")
        return {k.decode(): v.decode() for k, v in raw.items()}

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
