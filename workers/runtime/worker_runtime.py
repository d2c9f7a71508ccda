"""The worker side of tasks.runtime: limiters, ledgers, vendor clients and retry plumbing."""

from __future__ import annotations

import json
import logging
import threading
import time
from functools import cached_property

from typing import Any

from tasks.retry import RetryPolicy
from vendors.http import new_session

from workers.jobs.ledger import Ledger
from workers.limits.deferred import DeferredQueue
from workers.limits.limiter import RateLimiter
from workers.redis.connection import get_keys, get_redis
from workers.routing import VENDORS
from workers.runtime.once_ledger import OnceLedger
from workers.runtime.secret_store import SecretStore, secret_store
from workers.runtime.tokens import LOCK_WAIT_S
from workers.runtime.vendor_clients import build_client
from workers.settings import Settings, get_settings, vendor_account

# KEYS[1] job hash;  KEYS[2] parked list;  ARGV[1] chunk entry
# Parks the entry only while the job is still paused, atomically with that check, so a
# resume that drains the list afterwards cannot miss it.
PARK = """
if redis.call('HGET', KEYS[1], 'state') ~= 'paused' then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""


#: a lease outlasts the send it covers by this much: the claim before it, the outcome after it
LEASE_MARGIN_S = 5.0
#: per vendor: (HTTP calls one single operation may make, the longest token-lock wait in it).
#: Pozvonim: a token fetch and the call, and on a refused token a new fetch and the call again.
OP_CALLS = {"pozvonim": (4, LOCK_WAIT_S)}
#: dead letters kept in Redis (Keys.dead_chunks); the count per task keeps growing
DEAD_LETTERS_KEPT = 1000

log = logging.getLogger(__name__)


class WorkerRuntime:
    def __init__(self, publish, settings: Settings | None = None) -> None:
        self._settings = settings or get_settings()
        self._publish = publish  # (task_name, kwargs) -> None, i.e. app.send_task
        self._local = threading.local()  # a requests.Session is not safe across threads

    @property
    def retry(self) -> RetryPolicy:
        return self._settings.retry

    @property
    def row_lease_s(self) -> float:
        """How long a claim lasts: a row's whole send (send_budget_s, which no single call of
        any vendor outlasts) plus LEASE_MARGIN_S for the claim's and the outcome's round trips,
        so a live sender's claim never lapses."""
        s = self._settings
        slowest_call_s = max(s.vendor(v).total_timeout_s for v in VENDORS)
        return max(s.row_lease_s, slowest_call_s + LEASE_MARGIN_S)

    @property
    def send_budget_s(self) -> float:
        """Every HTTP call of one row's send ends within this (vendors.deadline.within)."""
        return self.row_lease_s - LEASE_MARGIN_S

    @property
    def chunk_time_budget_s(self) -> float:
        return self._settings.chunk_time_budget_s

    @property
    def rows_in_flight(self) -> int:
        return self._settings.rows_in_flight

    def limiter(self, vendor: str, account: str) -> RateLimiter:
        limits = vendor_account(vendor, account, self._settings)
        keys = get_keys()
        return RateLimiter(
            get_redis(), key=keys.limiter(vendor, account), stats_key=keys.limiter_stats(vendor, account),
            rate_per_s=limits.rate_per_s, burst=limits.burst, max_wait_s=self._settings.max_limiter_wait_s,
        )

    def ledger(self, job_id: str) -> Ledger:
        return Ledger(get_redis(), get_keys(), job_id, lease_s=self.row_lease_s)

    def client(self, vendor: str, account: str) -> Any:
        """One client per (vendor, account) per thread: sessions are not thread-safe."""
        cache = self._local.__dict__.setdefault("clients", {})
        if (vendor, account) not in cache:
            session = new_session(base_url=self._settings.vendor(vendor).base_url)
            cache[(vendor, account)] = build_client(self._settings, vendor, account, session, get_redis())
        return cache[(vendor, account)]

    def defer(self, task_name: str, kwargs: dict, *, delay_s: float, **options) -> None:
        self.deferred.add(task_name, kwargs, delay_s=delay_s, options=options)

    def park(self, job_id: str, task_name: str, kwargs: dict) -> bool:
        """Set a paused job's rows aside; publish them at once if the job was resumed meanwhile."""
        keys = get_keys()
        entry = json.dumps({"task": task_name, "kwargs": kwargs})
        if get_redis().eval(PARK, 2, keys.job(job_id), keys.parked(job_id), entry):
            return True
        self._publish(task_name, kwargs)
        return False

    def once(self) -> OnceLedger:
        return OnceLedger(get_redis(), get_keys(), ttl_s=self._settings.once_ttl_s)

    def count_once(self, task_name: str, event: str) -> None:
        get_redis().hincrby(get_keys().once_stats(), f"{task_name}|{event}", 1)

    def call_lease_s(self, vendor: str) -> float:
        """How long a single operation's run holds its task id: longer than the operation can take,
        so a live sender's lease never lapses mid-call. Every HTTP call it may make (OP_CALLS, a
        Pozvonim token fetch included) x the vendor's total_timeout_s, the token-lock wait where
        there is one, and LEASE_MARGIN_S for the ledger's round trips. The run's calls are
        bounded by call_budget_s (vendors.deadline.within), so they end inside the lease."""
        calls, lock_wait_s = OP_CALLS.get(vendor, (1, 0.0))
        return calls * self._settings.vendor(vendor).total_timeout_s + lock_wait_s + LEASE_MARGIN_S

    def call_budget_s(self, vendor: str) -> float:
        """Every HTTP call (and token-lock wait) of one single-operation run ends within this."""
        return self.call_lease_s(vendor) - LEASE_MARGIN_S

    def secrets(self) -> SecretStore:
        return secret_store()

    def dead_letter(self, task_name: str, kwargs, reason: str) -> None:
        """A chunk (or row of one) that no job can take: logged loudly, counted per task, and
        kept (the newest DEAD_LETTERS_KEPT) for an operator to inspect. Never a secret in it:
        chunk payloads carry account aliases only."""
        log.error("dead letter from %s: %s; payload kept in %s", task_name, reason, get_keys().dead_chunks())
        keys = get_keys()
        entry = json.dumps({"task": task_name, "reason": reason, "payload": kwargs, "at": time.time()},
                           ensure_ascii=False, default=repr)
        pipe = get_redis().pipeline()
        pipe.lpush(keys.dead_chunks(), entry)
        pipe.ltrim(keys.dead_chunks(), 0, DEAD_LETTERS_KEPT - 1)
        pipe.hincrby(keys.dead_chunks_count(), task_name, 1)
        pipe.execute()

    def hand_on(self, task_name: str, kwargs: dict) -> None:
        """A chunk out of time: its remaining rows go to the back of its queue as a new message."""
        self._publish(task_name, kwargs)

    @cached_property
    def deferred(self) -> DeferredQueue:
        return DeferredQueue(get_redis(), get_keys().deferred())
