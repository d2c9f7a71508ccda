"""The heartbeat against a real Redis broker: live workers' messages stay, dead ones' come back.

A message is taken from a kombu Redis queue without an ack, as a worker takes a chunk; its
entry in kombu's unacked index is then aged by hand, as if its worker stopped beating.
"""

from __future__ import annotations

import json
import time

import pytest
from types import SimpleNamespace
from unittest.mock import patch
from celery import Celery
from kombu import Connection

from workers.dev import devstack
from workers.recovery.heartbeat import Heartbeat, broker_connector, heartbeat_redis
from workers.redis.keys import Keys
from workers.recovery.liveness import Liveness
from workers.settings import Settings
from workers.recovery.unacked import UnackedIndex

DEAD_AFTER_S = 15.0


class Clock:
    """Wall and monotonic time the test moves by hand."""

    def __init__(self) -> None:
        self.wall = time.time()
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class Broker:
    """A kombu Redis broker under the test's key prefix, as the worker's app configures it."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.url = redis_url
        self.options = {"global_keyprefix": prefix + "broker:"}
        self.prefix = prefix + "broker:"

    def connect(self) -> Connection:
        return Connection(self.url, transport_options=self.options)

    def take_unacked(self, queue: str, body: dict) -> str:
        """Publish a message and take it like a worker that then dies: unacked, never restored by its
        own shutdown (kill -9 gives it none). Returns its delivery tag."""
        conn = self.connect()
        simple = conn.SimpleQueue(queue)
        simple.put(body)
        message = simple.get(timeout=2)
        simple.channel.qos._delivered.clear()  # what a killed process leaves: no restore at close
        return message.delivery_tag

    def age(self, r, tag: str, seconds: float, now: float | None = None) -> None:
        r.zadd(self.prefix + "unacked_index", {tag: (now or time.time()) - seconds})

    def queued(self, queue: str) -> list[dict]:
        with self.connect() as conn:
            simple = conn.SimpleQueue(queue)
            found = []
            while True:
                try:  # without blocking: a BRPOP left waiting holds the close for its whole 1 s timeout
                    message = simple.get(block=False)
                except simple.Empty:
                    return found
                found.append({"body": message.payload, "redelivered": message.delivery_info.get("redelivered")})
                message.ack()


@pytest.fixture
def broker(redis_url, key_prefix):
    return Broker(redis_url, key_prefix)


def index_of(broker) -> UnackedIndex:
    return UnackedIndex(broker.connect().default_channel)


def test_a_stale_message_goes_back_to_its_queue_once_and_a_fresh_one_stays(broker, r):
    # Given two unacked messages: one nobody re-scored for longer than the dead-after time, one fresh
    stale = broker.take_unacked("chunks", {"chunk": "of a dead worker"})
    fresh = broker.take_unacked("chunks", {"chunk": "of a live worker"})
    broker.age(r, stale, DEAD_AFTER_S + 1)
    # When two workers reap at the same moment
    restored = [index_of(broker).reap(time.time() - DEAD_AFTER_S) for _ in range(2)]
    # Then the stale one is back on its queue exactly once, marked redelivered; the fresh one stays unacked
    assert sorted(restored) == [0, 1]
    assert broker.queued("chunks") == [{"body": {"chunk": "of a dead worker"}, "redelivered": True}]
    assert r.hexists(broker.prefix + "unacked", fresh) and not r.hexists(broker.prefix + "unacked", stale)


def test_a_message_its_worker_re_scores_is_never_taken_back(broker, r):
    tag = broker.take_unacked("chunks", {"chunk": "long running"})
    index = index_of(broker)
    # Given a chunk delivered long ago (older than any timeout) whose worker still beats
    broker.age(r, tag, 3600)
    assert index.refresh([tag], time.time()) == 1
    # Then no reaper takes it back
    assert index.reap(time.time() - DEAD_AFTER_S) == 0
    assert broker.queued("chunks") == []
    # And a refresh never brings back a message acknowledged meanwhile
    r.zrem(broker.prefix + "unacked_index", tag)
    assert index.refresh([tag], time.time()) == 0
    assert r.zscore(broker.prefix + "unacked_index", tag) is None


def test_a_restore_checks_the_score_again_in_its_transaction(broker, r):
    # Given a tag a reaper found stale, but whose worker re-scored it before the restore ran
    tag = broker.take_unacked("chunks", {"chunk": "x"})
    broker.age(r, tag, DEAD_AFTER_S + 1)
    index = index_of(broker)
    cutoff = time.time() - DEAD_AFTER_S
    assert index.stale(cutoff) == [tag]
    index.refresh([tag], time.time())
    # Then the restore leaves it alone
    assert index.restore_if_stale(tag, cutoff) is False
    assert broker.queued("chunks") == []


def heartbeat(r, broker, key_prefix, clock, *, held=lambda: [], liveness_client=None, heartbeat_file="",
              connect_broker=None):
    liveness = Liveness(liveness_client or r, Keys(key_prefix), worker="host-a:4242", queues=lambda: ["chunks"],
                        dead_after_s=DEAD_AFTER_S, clock=lambda: clock.wall)
    return Heartbeat(liveness=liveness, held=held, interval_s=2.0, dead_after_s=DEAD_AFTER_S,
                     connect_broker=connect_broker or broker.connect, heartbeat_file=heartbeat_file,
                     clock=lambda: clock.wall, monotonic=lambda: clock.mono)


def test_no_reaping_until_this_process_has_reached_redis_for_the_dead_after_time(broker, r, key_prefix):
    clock = Clock()
    tag = broker.take_unacked("chunks", {"chunk": "held before an outage"})
    broker.age(r, tag, DEAD_AFTER_S + 5, now=clock.wall)
    failing = {"now": False}

    def held():
        if failing["now"]:
            raise ConnectionError("Redis unreachable")
        return []

    beat = heartbeat(r, broker, key_prefix, clock, held=held)
    # Given a worker that has just (re)gained Redis: everyone else may not have re-scored theirs yet
    assert beat.beat() == 0
    clock.advance(DEAD_AFTER_S - 1)
    assert beat.beat() == 0
    assert r.hexists(broker.prefix + "unacked", tag)
    # When a beat fails (Redis gone for a moment), the count starts again
    clock.advance(1)
    failing["now"] = True
    assert beat.beat() == 0
    failing["now"] = False
    clock.advance(2)
    assert beat.beat() == 0
    clock.advance(DEAD_AFTER_S - 2)
    assert beat.beat() == 0
    # Then only after reaching Redis at every beat for the whole dead-after time does it reap
    clock.advance(2)
    assert beat.beat() == 1
    assert [m["body"] for m in broker.queued("chunks")] == [{"chunk": "held before an outage"}]


class Held:
    """What Celery's worker state holds for one task message (the fields the beat reads)."""

    def __init__(self, task_id: str, tag: str, kwargs: dict) -> None:
        self.id = task_id
        self.name = "ringostat.campaign_rows.add_chunk"
        self.kwargs = kwargs
        self.delivery_info = {"routing_key": "ringostat"}
        self.time_start = None
        self.message = type("Message", (), {"delivery_tag": tag})()


def test_the_beat_writes_the_liveness_record_and_keeps_what_it_holds_fresh(broker, r, key_prefix):
    clock = Clock()
    tag = broker.take_unacked("chunks", {"chunk": "mine"})
    broker.age(r, tag, 3600, now=clock.wall)
    held = [Held("task-1", tag, {"job_id": "j1", "rows": [[2, "380930000001", ""]] * 3})]
    beat = heartbeat(r, broker, key_prefix, clock, held=lambda: held)
    beat.beat()
    clock.advance(DEAD_AFTER_S + 1)
    assert beat.beat() == 0  # its own message, re-scored at every beat, is never taken back
    keys = Keys(key_prefix)
    record = json.loads(r.get(keys.worker("host-a:4242")))
    assert {k: record[k] for k in ("id", "host", "pid", "queues", "seen_at")} == {
        "id": "host-a:4242", "host": "host-a", "pid": 4242, "queues": ["chunks"], "seen_at": clock.wall}
    assert record["held"] == [{"task_id": "task-1", "task": "ringostat.campaign_rows.add_chunk", "queue": "ringostat",
                               "job_id": "j1", "rows": 3, "started_at": clock.wall - DEAD_AFTER_S - 1}]
    assert 0 < r.pttl(keys.worker("host-a:4242")) <= DEAD_AFTER_S * 1000
    assert r.zscore(keys.workers(), "host-a:4242") == clock.wall
    assert r.zscore(broker.prefix + "unacked_index", tag) == pytest.approx(clock.wall)
    # And a clean shutdown removes the record
    beat.stop()
    assert r.get(keys.worker("host-a:4242")) is None and r.zscore(keys.workers(), "host-a:4242") is None


@pytest.mark.parametrize("down", ["redis", "broker"])
def test_the_heartbeat_file_is_touched_even_while_redis_is_down(broker, r, key_prefix, tmp_path, down):
    clock = Clock()
    nowhere = f"redis://127.0.0.1:{devstack.free_port()}/0"
    settings = Settings(redis_url=nowhere)
    liveness_client = heartbeat_redis(settings) if down == "redis" else r
    app = Celery("heartbeat-test", broker=nowhere if down == "broker" else broker.url,
                 broker_transport_options=broker.options)
    beat = heartbeat(r, broker, key_prefix, clock, liveness_client=liveness_client,
                     heartbeat_file=str(tmp_path / "beat"), connect_broker=broker_connector(app, settings))
    beat.beat()
    first = (tmp_path / "beat").stat().st_mtime_ns
    time.sleep(0.05)
    started = time.monotonic()
    assert beat.beat() == 0
    assert (tmp_path / "beat").stat().st_mtime_ns > first
    assert time.monotonic() - started < 2.0, "a beat while Redis is down must end within about one interval"


def test_the_beat_scores_on_redis_clock_not_the_hosts(r, broker, key_prefix):
    # Given a worker holding one message, on a host whose clock is not Redis'
    tag = broker.take_unacked("chunks", {"chunk": "held"})
    held = SimpleNamespace(id="t1", name="ringostat.campaign_rows.add_chunk", kwargs={}, delivery_info={},
                           time_start=None, message=SimpleNamespace(delivery_tag=tag))
    liveness = Liveness(r, Keys(key_prefix), worker="h:1", queues=lambda: [], dead_after_s=DEAD_AFTER_S)
    beat = Heartbeat(liveness=liveness, held=lambda: [held], interval_s=1.0, dead_after_s=DEAD_AFTER_S,
                     connect_broker=broker.connect)
    # When it beats, with Redis' clock reading 12345.0
    with patch.object(UnackedIndex, "now", return_value=12345.0):
        beat.beat()
    # Then the score is Redis' time: every worker compares on the one clock
    assert r.zscore(broker.prefix + "unacked_index", tag) == 12345.0
