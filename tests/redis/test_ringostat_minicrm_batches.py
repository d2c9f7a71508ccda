"""The batch runner of minicrm contacts jobs against a real ledger and limiter, with a scripted vendor."""

from __future__ import annotations

import pytest

from tasks.chunk_runner import ChunkRunner, JobRow
from tasks.retry import RetryPolicy
from tests.support.scripted import ScriptedBatches, another_worker, err, job_with_rows
from vendors import errors

ROWS = [JobRow(line, {"external_id": str(line)}, [line, {"externalId": str(line)}]) for line in range(2, 9)]


@pytest.fixture
def setup(r, key_prefix):
    return job_with_rows(r, key_prefix, ROWS, limiter_name="b")


def runner(ledger, limiter, vendor, batch_size=3):
    policy = RetryPolicy(in_task_attempts=3, in_task_backoff_s=0.001)
    return ChunkRunner(ledger=ledger, limiter=limiter, retry=policy, lease_s=0.01, batch_size=batch_size,
                       send_batch=vendor, sleep=lambda s: None)


def test_rows_go_in_batches_one_request_each_and_all_are_marked(setup):
    store, job_id, ledger, limiter = setup
    vendor = ScriptedBatches()
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    assert vendor.requests == [[2, 3, 4], [5, 6, 7], [8]]
    assert outcome.delivered == 7
    status = store.status(job_id)
    assert (status.delivered, status.state) == (7, "done")


def test_a_refused_batch_fails_all_its_rows_with_the_reason(setup):
    store, job_id, ledger, limiter = setup
    vendor = ScriptedBatches(err(errors.ValidationError, 400))
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    assert (outcome.failed, outcome.delivered) == (3, 4)
    problems = list(store.problem_rows(job_id))
    assert [(p["line"], p["external_id"], p["reason"]) for p in problems] == [
        (2, "2", "ringostat HTTP 400: boom"), (3, "3", "ringostat HTTP 400: boom"), (4, "4", "ringostat HTTP 400: boom")]
    assert problems[0]["wire"] == [2, {"externalId": "2"}]  # what retry-failed sends again


def test_transient_errors_retry_the_batch_then_defer_it(setup):
    store, job_id, ledger, limiter = setup
    # Given a vendor that throttles once, then fails the next batch with 503 until the attempts run out
    vendor = ScriptedBatches(err(errors.RateLimited, 429, retry_after_s=0.001), None,
                             *[err(errors.VendorServerError, 503)] * 3)
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    # Then the first batch went through on its second request, the second was deferred whole
    assert vendor.requests[:2] == [[2, 3, 4], [2, 3, 4]]
    assert [row.line for row in outcome.deferred] == [5, 6, 7]
    assert "503" in outcome.last_error
    assert (outcome.delivered, store.status(job_id).delivered) == (4, 4)


def test_a_rerun_sends_only_contacts_without_an_outcome(setup):
    store, job_id, ledger, limiter = setup
    runner(ledger, limiter, ScriptedBatches(*[err(errors.VendorTimeout)] * 3)).run(ROWS[:3])
    # Each contact of each timed-out request may have been synced
    assert store.status(job_id).unknown_outcome == 3 * 3
    second = ScriptedBatches()
    runner(ledger, limiter, second).run(ROWS)
    assert second.requests == [[2, 3, 4], [5, 6, 7], [8]]
    third = ScriptedBatches()
    assert runner(ledger, limiter, third).run(ROWS).skipped == 7 and third.requests == []


def test_rows_held_by_another_worker_are_left_out_of_the_batch(setup, r, key_prefix):
    store, job_id, ledger, limiter = setup
    another_worker(r, key_prefix, job_id).claim(3)  # another worker is sending line 3 (its lease outlives this run)
    vendor = ScriptedBatches()
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    assert vendor.requests == [[2, 4], [5, 6, 7], [8]]
    assert outcome.delivered == 6 and store.status(job_id).pending == 1


def test_a_paused_job_stops_before_sending_and_keeps_rows_pending(setup):
    store, job_id, ledger, limiter = setup
    store.set_state(job_id, "paused")
    vendor = ScriptedBatches()
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    assert (outcome.stop_reason, outcome.stopped, vendor.requests) == ("paused", ROWS, [])
    store.set_state(job_id, "running")
    assert runner(ledger, limiter, ScriptedBatches()).run(ROWS).delivered == 7  # no claim was left behind
