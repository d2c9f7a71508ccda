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
        """Hash: line -> lease deadline (ms), and '<line>:owner' -> who holds it, while a worker may be sending that row."""
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

    def outbox(self, job_id: str) -> str:
        """List of chunks counted by the producer and not yet known to be on the broker."""
        return f"{self.prefix}job:{job_id}:outbox"

    def producing(self) -> str:
        """Sorted set of jobs being loaded, scored by when their producer's lease lapses (s)."""
        return f"{self.prefix}producing"

    def deferred(self) -> str:
        """Sorted set of chunk payloads waiting for a retry, scored by due time (s)."""
        return f"{self.prefix}deferred"

    def pozvonim_token(self, account: str, egress_ip: str | None = None) -> str:
        """JSON {token, expires_at_s} of a Pozvonim account (on one egress IP when given); `<key>:lock`
        guards its refresh."""
        return f"{self.prefix}pozvonim:token:{account}" + (f":{egress_ip}" if egress_ip else "")

    def pozvonim_token_fetches(self, account: str) -> str:
        """Sorted set: one member per token fetched for the account in the last hour, scored by time."""
        return f"{self.prefix}pozvonim:token_fetches:{account}"

    def pozvonim_token_fetch_totals(self) -> str:
        """Hash: account -> tokens fetched since ever (a Prometheus counter)."""
        return f"{self.prefix}pozvonim:token_fetches"

    def workers(self) -> str:
        """Sorted set: worker id -> unix time of its last heartbeat."""
        return f"{self.prefix}workers"

    def worker(self, worker_id: str) -> str:
        """JSON liveness record of one worker (what it holds), with TTL worker_dead_after_s."""
        return f"{self.prefix}worker:{worker_id}"

    def once(self, task_id: str) -> str:
        """Hash of a non-idempotent single operation: state, attempt, lease_until_ms, sent_at_ms, result (TTL)."""
        return f"{self.prefix}once:{task_id}"

    def once_stats(self) -> str:
        """Hash: "<task name>|<event>" -> count (sent, reconciled_applied, outcome_unknown, ...)."""
        return f"{self.prefix}once:stats"

    def secret(self, ref_id: str) -> str:
        """A secret the caller supplied (a contributor's password), until used or its TTL (tasks/secretrefs.py)."""
        return f"{self.prefix}secret:{ref_id}"

    def reply_surprises(self) -> str:
        """Hash: "<vendor>|<what>" -> 2xx replies whose shape the code did not expect."""
        return f"{self.prefix}replies:unexpected"

    def dead_chunks(self) -> str:
        """List of JSON {task, reason, payload, at}: chunk rows no job can take, newest first (capped)."""
        return f"{self.prefix}dead_chunks"

    def dead_chunks_count(self) -> str:
        """Hash: task name -> dead letters ever recorded for it."""
        return f"{self.prefix}dead_chunks:count"
