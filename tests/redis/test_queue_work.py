"""The work per queue that autoscaling reads: waiting + in flight + deferred, from real kombu state."""

from __future__ import annotations

import pytest
from kombu import Connection

from workers.jobs.backlog import queue_work
from workers.limits.deferred import DeferredQueue
from workers.redis.keys import Keys
from workers.settings import get_settings

CHUNK = "ringostat.campaign_rows.add_chunk"


@pytest.fixture
def broker(redis_url, key_prefix):
    """kombu on the test Redis, under this test's prefix, as Celery's Redis transport uses it."""
    with Connection(redis_url, transport_options={"global_keyprefix": f"{key_prefix}broker:"}) as conn:
        yield conn


def test_chunks_taken_by_a_worker_and_deferred_ones_still_count(r, key_prefix, broker):
    keys = Keys(key_prefix)
    # Given three chunks published to `ringostat`, one of them taken by a worker and not yet acknowledged
    queue = broker.SimpleQueue("ringostat")
    for n in range(3):
        queue.put({"chunk": n})
    taken = queue.get(timeout=2)
    # And two chunks waiting for a retry: one of the default account, one of account `eu`
    deferred = DeferredQueue(r, keys.deferred())
    deferred.add(CHUNK, {"job_id": "j", "account": "default"}, delay_s=60)
    deferred.add(CHUNK, {"job_id": "j", "account": "eu"}, delay_s=60)
    # When the work is counted
    work = queue_work(r, keys, ["ringostat", "bulk"], broker_prefix=f"{key_prefix}broker:")
    # Then the taken chunk counts as in flight, not as gone
    assert (work["ringostat"].waiting, work["ringostat"].in_flight, work["ringostat"].deferred) == (2, 1, 1)
    assert work["ringostat"].total == 4
    # And a deferred chunk counts for its account's queue, even one not asked about
    assert work["ringostat.eu"].deferred == 1 and work["ringostat.eu"].total == 1
    assert work["bulk"].total == 0
    # And once acknowledged it is no longer in flight
    taken.ack()
    assert queue_work(r, keys, ["ringostat"], broker_prefix=f"{key_prefix}broker:")["ringostat"].in_flight == 0
    queue.close()


def test_flower_metrics_export_queue_work_and_token_fetches(r, key_prefix, broker, monkeypatch):
    from prometheus_client.core import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    from workers.metrics import TelequeueCollector
    from workers.runtime.tokens import FetchLog

    monkeypatch.setenv("TELEQUEUE_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("TELEQUEUE_BROKER_KEY_PREFIX", f"{key_prefix}broker:")
    get_settings.cache_clear()
    try:
        queue = broker.SimpleQueue("pozvonim")
        queue.put({"chunk": 1})
        queue.get(timeout=2)  # in flight
        for _ in range(2):
            FetchLog(r, Keys(key_prefix), "default").record()
        registry = CollectorRegistry()
        registry.register(TelequeueCollector())
        text = generate_latest(registry).decode()
        queue.close()
    finally:
        get_settings.cache_clear()
    assert 'telequeue_queue_chunks{queue="pozvonim",state="in_flight"} 1.0' in text
    assert 'telequeue_queue_chunks{queue="pozvonim",state="waiting"} 0.0' in text
    assert 'telequeue_pozvonim_token_fetches_total{account="default"} 2.0' in text
    assert 'telequeue_pozvonim_token_fetches_last_hour{account="default"} 2.0' in text
