"""What the Jobs tab shows of a job, as JSON-ready dicts, read from Redis.

Only counters, names, reasons and worker ids: no setting but an account's rate, so no key,
password or Redis URL can reach a page. Blocking Redis reads: call these off the event loop.
"""

from __future__ import annotations

import heapq
import json

import redis

from workers.jobs.store import JobStatus, JobStore
from workers.redis.keys import Keys
from workers.jobs.registry import kind_of
from workers.settings import Settings
from workers.flower.rates import RateTracker

#: failures listed on a job page, and how many of the failed hash are scanned to pick them
FAILURES_SHOWN = 20
FAILURES_SCANNED = 5000


class Snapshots:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings, rates: RateTracker) -> None:
        self._r = client
        self._keys = keys
        self._settings = settings
        self._store = JobStore(client, keys)
        self._rates = rates

    def jobs(self, limit: int) -> list[dict]:
        return [self.summary(status) for status in self._store.list(limit)]

    def summary(self, status: JobStatus) -> dict:
        self._rates.observe(status)
        return {**status.as_dict(), "finished": status.finished,
                "rate_per_s": self._rates.rate_per_s(status), "eta_s": self._rates.eta_s(status)}

    def detail(self, job_id: str) -> dict:
        status = self._store.status(job_id)  # JobNotFound when gone
        return {
            "job": self.summary(status),
            "history": self._rates.history(job_id),
            "limiter": self.limiter(status.vendor, status.account),
            "failures": self.recent_failures(status),
            "in_flight": self.chunks_in_flight(job_id),
            "parked_chunks": self._r.llen(self._keys.parked(job_id)),
        }

    def limiter(self, vendor: str, account: str) -> dict:
        stats = {k.decode(): float(v) for k, v in self._r.hgetall(self._keys.limiter_stats(vendor, account)).items()}
        limits = self._settings.vendor(vendor).accounts.get(account)
        return {"vendor": vendor, "account": account,
                "rate_per_s": limits.rate_per_s if limits else None, "burst": limits.burst if limits else None,
                "granted": int(stats.get("granted", 0)), "wait_s": stats.get("wait_s", 0.0),
                "throttled": int(stats.get("throttled", 0))}

    def recent_failures(self, status: JobStatus) -> list[dict]:
        """The failed rows of the highest lines (rows go out in file order: the latest ones),
        among the first FAILURES_SCANNED of the job's failed rows Redis returns."""
        fields = kind_of(status.kind).report_fields
        found = []
        for _, raw in self._r.hscan_iter(self._keys.failed(status.id), count=500):
            found.append(json.loads(raw))
            if len(found) >= FAILURES_SCANNED:
                break
        latest = heapq.nlargest(FAILURES_SHOWN, found, key=lambda row: row["line"])
        return [{"line": row["line"], "reason": row.get("reason", ""),
                 "status": "cancelled" if row.get("reason") == "job cancelled" else "failed",
                 **{name: row.get(name) for name in fields}} for row in latest]

    def chunks_in_flight(self, job_id: str) -> list[dict]:
        """The chunks of this job live workers say they hold (their liveness records): a worker
        without a record is not alive, and fields a newer worker adds are ignored."""
        ids = [raw.decode() for raw in self._r.zrange(self._keys.workers(), 0, -1)]
        records = self._r.mget([self._keys.worker(worker_id) for worker_id in ids]) if ids else []
        held = []
        for raw in records:
            record = _json(raw)
            if not isinstance(record, dict):
                continue
            for chunk in record.get("held") or []:
                if isinstance(chunk, dict) and chunk.get("job_id") == job_id:
                    held.append({"worker": record.get("id"), "host": record.get("host"), "pid": record.get("pid"),
                                 "seen_at": record.get("seen_at"), "task_id": chunk.get("task_id"),
                                 "task": chunk.get("task"), "queue": chunk.get("queue"),
                                 "rows": chunk.get("rows"), "started_at": chunk.get("started_at")})
        return sorted(held, key=lambda chunk: chunk.get("started_at") or 0)


def _json(raw: bytes | None):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
