"""Every Redis key telequeue writes, in one place. All start with the settings' `key_prefix`."""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def limiter(self, vendor: str, account: str) -> str:
        """GCRA theoretical arrival time of one vendor account (µs, Redis clock)."""
        return f"{self.prefix}limit:{vendor}:{account}"

    def limiter_stats(self, vendor: str, account: str) -> str:
        return f"{self.prefix}limit:{vendor}:{account}:stats"

    def jobs(self) -> str:
        """Sorted set of job ids by creation time."""
        return f"{self.prefix}jobs"

    def job(self, job_id: str) -> str:
        """Hash: the job's parameters, state and counters."""
        return f"{self.prefix}job:{job_id}"

    def delivered(self, job_id: str) -> str:
        """Bitmap: bit N set when the row of line N was accepted by the vendor."""
        return f"{self.prefix}job:{job_id}:delivered"

    def failed(self, job_id: str) -> str:
        """Hash: line -> JSON {phone, fio, reason} for rows that failed for good."""
        return f"{self.prefix}job:{job_id}:failed"

    def claims(self, job_id: str) -> str:
        """Hash: line -> lease deadline (ms) while a worker may be sending that row."""
        return f"{self.prefix}job:{job_id}:claims"

    def unknown(self, job_id: str) -> str:
        """Hash: line -> times the row was sent again after an unknown outcome."""
        return f"{self.prefix}job:{job_id}:unknown"

    def rejects(self, job_id: str) -> str:
        """List of JSON rows refused before sending (validation, duplicates)."""
        return f"{self.prefix}job:{job_id}:rejects"

    def parked(self, job_id: str) -> str:
        """List of chunk payloads set aside while the job is paused."""
        return f"{self.prefix}job:{job_id}:parked"

    def job_keys(self, job_id: str) -> list[str]:
        """Every key of one job, the job hash first: they expire together once it ends."""
        return [self.job(job_id), self.delivered(job_id), self.failed(job_id), self.claims(job_id),
                self.rejects(job_id), self.unknown(job_id), self.parked(job_id), self.parked_inflight(job_id)]

    def parked_inflight(self, job_id: str) -> str:
        """List of parked chunks being published by a resume or cancel."""
        return f"{self.prefix}job:{job_id}:parked:inflight"

    def deferred(self) -> str:
        """Sorted set of chunk payloads waiting for a retry, scored by due time (s)."""
        return f"{self.prefix}deferred"

    def workers(self) -> str:
        """Sorted set: worker id ("<hostname>:<pid>") -> unix time of its last beat."""
        return f"{self.prefix}workers"

    def worker(self, worker_id: str) -> str:
        """JSON liveness record of one worker process (what it holds), expiring worker_dead_after_s after its last beat."""
        return f"{self.prefix}worker:{worker_id}"

    def pozvonim_token(self, account: str, egress_ip: str) -> str:
        """JSON {token, expires_at_s} of a Pozvonim account on one egress IP; `<key>:lock` guards its refresh."""
        return f"{self.prefix}pozvonim:token:{account}:{egress_ip}"
