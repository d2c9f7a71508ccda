"""The row ledger: a row with an outcome is never sent again; counters add up."""

from __future__ import annotations

import json

import pytest

from workers.jobs import JobStore
from workers.keys import Keys
from workers.ledger import Claim, Ledger


@pytest.fixture
def job(r, key_prefix):
    keys = Keys(key_prefix)
    store = JobStore(r, keys)
    job_id = store.create(kind="test", vendor="ringostat", account="default", target="t")
    store.add_rows(job_id, valid=3, rejects=[{"line": 5, "phone": "x", "fio": "", "reason": "not a phone number"}])
    return store, keys, job_id


def test_a_row_is_claimed_once_and_never_again_after_delivery(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    assert ledger.claim(2) is Claim.CLAIMED
    # A second worker (a redelivered copy) must not send it while the first one may be sending
    assert ledger.claim(2) is Claim.BUSY
    assert ledger.delivered(2) is True
    assert ledger.claim(2) is Claim.DONE
    # Recording the outcome again changes nothing
    assert ledger.delivered(2) is False
    assert store.status(job_id).delivered == 1


def test_an_expired_lease_is_taken_over_and_counted_as_unknown_outcome(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=0.05)
    assert ledger.claim(3) is Claim.CLAIMED
    r.hset(keys.claims(job_id), 3, 1)  # the claimer died long ago
    assert ledger.claim(3) is Claim.RECLAIMED
    assert store.status(job_id).unknown_outcome == 1
    assert int(r.hget(keys.unknown(job_id), 3)) == 1


def test_release_after_timeout_marks_unknown_outcome(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    ledger.claim(4)
    ledger.release(4, unknown_outcome=True)
    assert ledger.claim(4) is Claim.CLAIMED
    assert store.status(job_id).unknown_outcome == 1


def test_job_is_done_when_every_valid_row_has_an_outcome(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    ledger.delivered(2)
    ledger.failed(3, {"phone": "380930000000", "fio": "=cmd"}, reason="ringostat HTTP 400: bad")
    store.mark_produced(job_id)
    assert store.status(job_id).state == "running"
    assert r.ttl(keys.job(job_id)) == -1  # running: no expiry
    ledger.delivered(4)
    status = store.status(job_id)
    assert (status.state, status.pending, status.accounted, status.total) == ("done", 0, 4, 4)
    assert status.finished
    lines = [(row["line"], row["status"]) for row in store.problem_rows(job_id)]
    assert lines == [(3, "failed"), (5, "rejected")]
    # And a finished job's keys expire together (settings.job_ttl_s), none left behind forever
    existing = [key for key in keys.job_keys(job_id) if r.exists(key)]
    assert len(existing) >= 4 and all(0 < r.ttl(key) <= 14 * 24 * 3600 for key in existing)


def test_finished_lines_in_one_round_trip(r, job):
    _, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    ledger.delivered(2)
    ledger.failed(3, {"phone": "p", "fio": ""}, reason="x")
    assert ledger.finished_lines([2, 3, 4]) == {2, 3}


def test_paused_and_cancelled_jobs_hand_out_no_claims(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    store.set_state(job_id, "paused")
    assert ledger.claim(2) is Claim.PAUSED
    store.set_state(job_id, "cancelled")
    assert ledger.claim(2) is Claim.CANCELLED
    assert json.loads(r.hget(keys.job(job_id), "params")) == {}
