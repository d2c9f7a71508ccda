"""Job control against real Redis: retry-failed and resume stay exact when they race."""

from __future__ import annotations

import json
import threading

from workers.jobs.control import JobControl
from workers.jobs.store import JobStore
from workers.redis.keys import Keys
from workers.jobs.ledger import Ledger


def failed_job(r, prefix, n):
    keys = Keys(prefix)
    store = JobStore(r, keys)
    job_id = store.create(kind="ringostat-campaign", vendor="ringostat", account="default", target="t",
                          params={"campaign_id": 7, "account": "default"})
    store.add_rows(job_id, valid=n, rejects=[])
    ledger = Ledger(r, keys, job_id, lease_s=30)
    for line in range(2, n + 2):
        ledger.failed(line, {"phone": f"3809300000{line:02d}", "fio": ""}, reason="HTTP 500",
                      wire=[line, f"3809300000{line:02d}", ""])
    store.mark_produced(job_id)
    return keys, store, job_id


def test_two_retries_at_once_take_each_failed_row_once(r, key_prefix):
    keys, store, job_id = failed_job(r, key_prefix, 30)
    assert store.status(job_id).state == "done"
    control = JobControl(r, keys, publish=lambda *a, **k: None)
    taken = []
    threads = [threading.Thread(target=lambda: taken.append(control.retry_failed(job_id, chunk_size=7)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = store.status(job_id)
    assert sum(taken) == 30 and status.failed == 0 and status.pending == 30 and status.state == "running"
    # The rows went to the deferred set in the same step: no crash window without a message
    lines = sorted(row[0] for raw in r.zrange(keys.deferred(), 0, -1)
                   for row in json.loads(raw)["kwargs"]["rows"])
    assert set(lines) == set(range(2, 32))
    assert r.ttl(keys.job(job_id)) == -1  # running again: its keys no longer expire


def test_resume_publishes_every_parked_chunk_once_even_after_a_crashed_drain(r, key_prefix):
    keys, store, job_id = failed_job(r, key_prefix, 1)
    store.set_state(job_id, "paused")
    for i in range(3):
        r.rpush(keys.parked(job_id), json.dumps({"task": "t", "kwargs": {"n": i}}))
    r.rpush(keys.parked_inflight(job_id), json.dumps({"task": "t", "kwargs": {"n": "left by a crash"}}))
    published = []
    JobControl(r, keys, publish=lambda task, kwargs, **_: published.append(kwargs["n"])).resume(job_id)
    assert sorted(map(str, published)) == ["0", "1", "2", "left by a crash"]
    assert r.llen(keys.parked(job_id)) == 0 and r.llen(keys.parked_inflight(job_id)) == 0


def test_a_load_that_breaks_midway_ends_as_aborted_with_true_counters(r, key_prefix, monkeypatch):
    import pytest

    from workers.jobs import producer
    from tasks.ringostat import CampaignChunkRow
    from workers.jobs.kind import JobKind

    monkeypatch.setattr(producer, "get_redis", lambda: r)
    monkeypatch.setattr(producer, "get_keys", lambda: Keys(key_prefix))
    sent: list[list] = []

    def rows():
        for line in range(2, 152):
            yield CampaignChunkRow(line, f"380930000{line:03d}", "")
        raise UnicodeError("a broken line")

    kind = JobKind("test-kind", "ringostat", "t", lambda job_id, params, chunk: {"rows": chunk},
                   to_wire=lambda row: [row.line, row.phone, row.fio])
    created = []
    with pytest.raises(UnicodeError):
        producer.start_job(kind, rows(), account="default", target="t", params={}, chunk_size=100,
                           on_created=created.append, publish=lambda task, kwargs, **_: sent.append(kwargs["rows"]))
    store = JobStore(r, Keys(key_prefix))
    status = store.status(created[0])
    # The first chunk went out; the half-read second one was never counted
    assert (status.state, status.produced, status.valid, status.total) == ("aborted", True, 100, 100)
    ledger = Ledger(r, Keys(key_prefix), created[0], lease_s=30)
    for wire in sent[0]:
        ledger.delivered(wire[0])
    status = store.status(created[0])
    assert status.finished and status.state == "aborted"
