"""Prometheus metrics Flower does not have: limiter waits and 429s per vendor account, job counters.

Registered into prometheus_client's default registry by workers.app, so `celery -A workers.app
flower` serves them on its own /metrics. Read from Redis at scrape time: nothing to keep in sync.
"""

from __future__ import annotations

import logging
import time

from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

from workers.jobs.backlog import queue_work
from workers.jobs.store import COUNTERS, JobStore
from workers.redis.connection import get_keys, get_redis
from workers.routing import BULK_QUEUE, VENDORS, queue_for
from workers.settings import get_settings
from workers.runtime.tokens import FETCH_WINDOW_S

log = logging.getLogger(__name__)

#: jobs exported, newest first: enough for a dashboard, bounded for Prometheus
RECENT_JOBS = 50


class TelequeueCollector:
    def collect(self):
        yield from self._limiter_metrics()
        yield self._job_metrics()
        yield from self._single_op_metrics()
        yield from self._queue_metrics()
        yield from self._token_metrics()

    def _single_op_metrics(self):
        """Non-idempotent single operations by outcome (tasks/once.py), and 2xx replies of unexpected shape."""
        once = CounterMetricFamily("telequeue_single_ops", "Non-idempotent single operations by outcome: sent, "
                                   "reconciled_applied, reconciled_absent_resent, outcome_unknown, duplicate_dropped, "
                                   "redelivered_after_send", labels=["task", "outcome"])
        surprises = CounterMetricFamily("telequeue_unexpected_replies", "2xx replies whose shape was not the "
                                        "expected one (returned as the vendor's JSON)", labels=["vendor", "what"])
        redis, keys = get_redis(), get_keys()
        for family, key in ((once, keys.once_stats()), (surprises, keys.reply_surprises())):
            for field, count in sorted(redis.hgetall(key).items()):
                family.add_metric(field.decode().split("|", 1), float(count))
        return [once, surprises]

    def _limiter_metrics(self):
        granted = CounterMetricFamily("telequeue_limiter_granted", "Send slots granted", labels=["vendor", "account"])
        waited = CounterMetricFamily("telequeue_limiter_wait_seconds", "Time spent waiting for a slot",
                                     labels=["vendor", "account"])
        throttled = CounterMetricFamily("telequeue_vendor_throttled", "429 answers from the vendor",
                                        labels=["vendor", "account"])
        missed = CounterMetricFamily("telequeue_limiter_missed", "Slots given up because their sender got to "
                                     "them too late (a busy worker): sent in a new slot", labels=["vendor", "account"])
        redis, keys, settings = get_redis(), get_keys(), get_settings()
        for vendor in VENDORS:
            for account in settings.vendor(vendor).accounts:
                stats = {k.decode(): float(v) for k, v in redis.hgetall(keys.limiter_stats(vendor, account)).items()}
                granted.add_metric([vendor, account], stats.get("granted", 0))
                waited.add_metric([vendor, account], stats.get("wait_s", 0))
                throttled.add_metric([vendor, account], stats.get("throttled", 0))
                missed.add_metric([vendor, account], stats.get("missed", 0))
        return [granted, waited, throttled, missed]

    def _job_metrics(self):
        rows = GaugeMetricFamily("telequeue_job_rows", "Rows of recent jobs by outcome",
                                 labels=["job", "kind", "state", "outcome"])
        for status in JobStore(get_redis(), get_keys()).list(RECENT_JOBS):
            for outcome in (*COUNTERS, "pending"):
                rows.add_metric([status.id, status.kind, status.state, outcome], getattr(status, outcome))
        return rows

    def _queue_metrics(self):
        """Chunks per queue and where they are: KEDA scales on the sum (deploy/k8s/scaledobjects.yaml)."""
        settings = get_settings()
        if settings.broker != settings.redis_url:
            return []  # another broker (RabbitMQ): its own exporter counts its queues
        chunks = GaugeMetricFamily("telequeue_queue_chunks", "Chunks of a queue: waiting, in flight (unacked), "
                                   "deferred for a retry", labels=["queue", "state"])
        queues = [queue_for(v, a) for v in VENDORS for a in settings.vendor(v).accounts] + [BULK_QUEUE]
        for queue, work in queue_work(get_redis(), get_keys(), queues,
                                      broker_prefix=settings.broker_key_prefix).items():
            for state in ("waiting", "in_flight", "deferred"):
                chunks.add_metric([queue, state], getattr(work, state))
        return [chunks]

    def _token_metrics(self):
        """Pozvonim token fetches: a healthy account fetches one per ~4 h (workers/runtime/tokens.py)."""
        redis, keys = get_redis(), get_keys()
        total = CounterMetricFamily("telequeue_pozvonim_token_fetches", "Pozvonim tokens fetched", labels=["account"])
        recent = GaugeMetricFamily("telequeue_pozvonim_token_fetches_last_hour",
                                   "Pozvonim tokens fetched in the last hour (above 4 per egress address: tokens thrash)",
                                   labels=["account"])
        totals = {k.decode(): int(v) for k, v in redis.hgetall(keys.pozvonim_token_fetch_totals()).items()}
        for account in sorted(set(get_settings().pozvonim.accounts) | set(totals)):
            total.add_metric([account], totals.get(account, 0))
            key = keys.pozvonim_token_fetches(account)
            recent.add_metric([account], redis.zcount(key, f"({time.time() - FETCH_WINDOW_S}", "+inf"))
        return [total, recent]


def count_surprise(vendor: str, what: str, why: str) -> None:
    """The worker's vendors.surprises reporter: a log line, and a counter read at scrape time."""
    log.warning("%s: unexpected reply shape for %s (%s); returned as the vendor sent it", vendor, what, why)
    get_redis().hincrby(get_keys().reply_surprises(), f"{vendor}|{what}", 1)


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(TelequeueCollector())
        _registered = True
