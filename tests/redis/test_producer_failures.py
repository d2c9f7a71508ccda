"""A load that fails, or whose producer vanishes, strands no row; rows from code keep one line each.

Real Redis; the workers' side (park, mark cancelled) is played by the scripts they run.
"""

from __future__ import annotations

import json
import time

import pytest

from tasks.ringostat import CampaignChunkRow
from workers.jobs import producer
from workers.jobs.control import JobControl
from workers.jobs.intake import DuplicateLine
from workers.jobs.kind import JobKind
from workers.jobs.ledger import Ledger
from workers.jobs.store import JobStore
from workers.limits.deferred import encode_entry
from workers.redis.keys import Keys
from workers.runtime.worker_runtime import PARK

KIND = JobKind("ringostat-campaign", "ringostat", "t", lambda job_id, params, chunk: {"job_id": job_id, "rows": chunk},
               to_wire=lambda row: [row.line, row.phone, row.fio])


@pytest.fixture
def keys(r, key_prefix, monkeypatch):
    monkeypatch.setattr(producer, "get_redis", lambda: r)
    monkeypatch.setattr(producer, "get_keys", lambda: Keys(key_prefix))
    return Keys(key_prefix)


def paused_then_failing_load(r, keys):
    """A 150-row load paused while its first chunk is read, whose file then breaks; the
    chunk that arrives at a worker while paused is parked, as a worker does."""
    sent: list[dict] = []

    def publish(task, kwargs, **_):
        sent.append(kwargs)
        # a worker takes the chunk; the job is paused by now, so it parks it
        r.eval(PARK, 2, keys.job(kwargs["job_id"]), keys.parked(kwargs["job_id"]),
               json.dumps({"task": task, "kwargs": kwargs}))

    created: list[str] = []

    def rows():
        for line in range(2, 152):
            if line == 50:
                JobControl(r, keys, publish).pause(created[0])
            yield CampaignChunkRow(line, f"380930000{line:03d}", "")
        raise UnicodeError("a broken line")

    with pytest.raises(UnicodeError):
        producer.start_job(KIND, rows(), account="default", target="t", params={}, chunk_size=100,
                           on_created=created.append, publish=publish)
    return created[0], sent


def test_a_load_that_fails_while_paused_stays_paused_and_resumes_into_aborted(r, keys):
    job_id, sent = paused_then_failing_load(r, keys)
    store = JobStore(r, keys)
    status = store.status(job_id)
    # Given: paused, its load ended early; the first chunk parked at a worker
    assert (status.state, status.aborted, status.produced, status.valid) == ("paused", True, True, 100)
    assert r.llen(keys.parked(job_id)) == 1
    # When: resumed, the parked chunk goes out again and the job can finish, as aborted
    republished = []
    assert JobControl(r, keys, lambda task, kwargs, **_: republished.append(kwargs)).resume(job_id) == 1
    assert store.status(job_id).state == "aborted" and len(republished) == 1
    ledger = Ledger(r, keys, job_id, lease_s=30)
    for wire in republished[0]["rows"]:
        ledger.delivered(wire[0])
    status = store.status(job_id)
    assert status.finished and status.state == "aborted" and status.delivered == 100


def test_cancel_of_a_load_that_failed_while_paused_never_sends_its_parked_rows(r, keys):
    job_id, _ = paused_then_failing_load(r, keys)
    republished = []
    assert JobControl(r, keys, lambda task, kwargs, **_: republished.append(kwargs)).cancel(job_id) == 1
    # The parked chunk reaches a worker with the job cancelled: it marks the rows, never sends them
    ledger = Ledger(r, keys, job_id, lease_s=30)
    assert ledger.job_state() == "cancelled" and ledger.stopped()
    for wire in republished[0]["rows"]:
        ledger.failed(wire[0], {}, reason="job cancelled", outcome="cancelled", unclaimed_only=True)
    status = JobStore(r, keys).status(job_id)
    assert status.finished and (status.state, status.cancelled, status.delivered) == ("cancelled", 100, 0)


def test_an_aborted_job_can_be_paused_and_cancelled_like_a_running_one(r, keys):
    store = JobStore(r, keys)
    job_id = store.create(kind="ringostat-campaign", vendor="ringostat", account="default", target="t",
                          producer="p1")
    assert store.count_rows(job_id, "p1", batch=1, last_line=11, valid=10, rejects=[]) == "counted"
    store.abort(job_id, reason="broken", producer="p1")
    control = JobControl(r, keys, lambda *a, **k: None)
    control.pause(job_id)
    assert store.status(job_id).state == "paused"
    control.resume(job_id)
    assert store.status(job_id).state == "aborted"
    control.cancel(job_id)
    assert Ledger(r, keys, job_id, lease_s=30).stopped()


def test_a_vanished_producer_ends_as_aborted_and_its_counted_chunk_still_goes_out(r, keys):
    store = JobStore(r, keys)
    job_id = store.create(kind="ringostat-campaign", vendor="ringostat", account="default", target="t",
                          producer="p1", lease_s=0.3)
    entry = encode_entry("t", {"job_id": job_id, "rows": [[2, "380930000002", ""]]}, {"ignore_result": True})
    # Given: a batch counted and in the outbox, then the producer killed before it published
    assert store.count_rows(job_id, "p1", batch=1, last_line=2, valid=1, rejects=[], entry=entry,
                            lease_s=0.3) == "counted"
    assert store.status(job_id).state == "loading"
    time.sleep(0.5)
    # When: anyone reads it after the lease lapsed, it is aborted; a worker's reaper sends the outbox
    status = store.status(job_id)
    assert (status.state, status.aborted, status.produced, status.last_line) == ("aborted", True, True, 2)
    published = []
    assert producer.end_lapsed_loads(store, lambda task, kwargs, **options: published.append((task, kwargs, options))) == 1
    assert published == [("t", {"job_id": job_id, "rows": [[2, "380930000002", ""]]}, {"ignore_result": True})]
    assert r.zscore(keys.producing(), job_id) is None and r.llen(keys.outbox(job_id)) == 0
    # Then: the job finishes, and its keys expire
    Ledger(r, keys, job_id, lease_s=30).delivered(2)
    assert store.status(job_id).finished and r.ttl(keys.job(job_id)) > 0
    # The producer, back after all, cannot go on counting: its load was ended
    assert store.count_rows(job_id, "p1", batch=2, last_line=3, valid=1, rejects=[]) == "lost"


def test_a_counted_batch_is_counted_once_when_the_call_runs_again(r, keys):
    """Redis may run a script and die before replying: the retried call must not count twice."""
    store = JobStore(r, keys)
    job_id = store.create(kind="ringostat-campaign", vendor="ringostat", account="default", target="t",
                          producer="p1")
    reject = {"line": 3, "phone": "x", "fio": "", "reason": "not a phone number"}
    assert store.count_rows(job_id, "p1", batch=1, last_line=3, valid=1, rejects=[reject], entry="e1") == "counted"
    assert store.count_rows(job_id, "p1", batch=1, last_line=3, valid=1, rejects=[reject], entry="e1") == "again"
    status = store.status(job_id)
    assert (status.valid, status.rejected, status.total) == (1, 1, 2)
    assert r.llen(keys.rejects(job_id)) == 1 and r.llen(keys.outbox(job_id)) == 1
    # Redis that came back without batch 2 (the AOF's last second lost): batch 3 is refused, not counted
    assert store.count_rows(job_id, "p1", batch=3, last_line=9, valid=5, rejects=[], entry="e3") == "gap"
    assert store.status(job_id).valid == 1 and r.llen(keys.outbox(job_id)) == 1


def test_a_live_producer_keeps_its_load(r, keys):
    store = JobStore(r, keys)
    job_id = store.create(kind="ringostat-campaign", vendor="ringostat", account="default", target="t",
                          producer="p1", lease_s=0.6)
    with producer.LeaseKeeper(store, job_id, "p1", lease_s=0.6):
        time.sleep(1.2)
        assert store.status(job_id).state == "loading"
        assert store.resume_load(job_id, "p2") == "loading"


@pytest.mark.parametrize("rows", [
    [{"line": 5, "phone": "0930000001"}, {"line": 5, "phone": "0930000002"}],
    [{"phone": "0930000001"}, {"line": 1, "phone": "0930000002"}],  # position 1 and line 1
], ids=["same-line", "line-equals-a-position"])
def test_rows_from_code_sharing_a_line_are_refused_before_any_job_exists(r, keys, rows):
    from workers.jobs.kinds.ringostat_campaign import load_campaign_rows

    published = []
    with pytest.raises(DuplicateLine, match=r"rows\[0\] and rows\[1\] both have line"):
        load_campaign_rows(rows, campaign_id=7, publish=lambda *a, **k: published.append(a))
    assert published == [] and r.zcard(keys.jobs()) == 0


def test_rows_from_a_generator_sharing_a_line_stop_the_load_loudly_and_lose_nothing(r, keys):
    from workers.jobs.kinds.ringostat_campaign import load_campaign_rows

    published = []
    rows = ({"line": line, "phone": f"0930000{line:03d}"} for line in [*range(1, 151), 7])
    with pytest.raises(DuplicateLine):
        load_campaign_rows(rows, campaign_id=7, publish=lambda task, kwargs, **_: published.append(kwargs))
    [job_id] = [i.decode() for i in r.zrange(keys.jobs(), 0, -1)]
    status = JobStore(r, keys).status(job_id)
    # Every counted row went out once: no row shares a slot in the ledger
    lines = [row[0] for kwargs in published for row in kwargs["rows"]]
    assert status.state == "aborted" and status.valid == len(lines) == len(set(lines)) == 100
