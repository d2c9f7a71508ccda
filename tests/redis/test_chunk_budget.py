"""A chunk's time budget: past it, the chunk stops between rows and hands the rest on (through a real
worker: tests/stack/test_chunk_budget_handover.py)."""

from __future__ import annotations

import time

import pytest

from tasks.chunk_runner import OUT_OF_TIME, Budget, ChunkRunner, JobRow
from tasks.retry import RetryPolicy
from tests.support.scripted import ScriptedBatches, ScriptedVendor, job_with_rows
from workers.jobs.ledger import Ledger
from workers.limits.limiter import Reservation
from workers.redis.keys import Keys

ROWS = [JobRow(line, {"phone": f"38093000000{line}", "fio": ""}, [line, f"38093000000{line}", ""])
        for line in range(2, 8)]
POLICY = RetryPolicy(in_task_attempts=3, in_task_backoff_s=0.001)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(r, key_prefix):
    return job_with_rows(r, key_prefix, ROWS, limiter_name="budget")


def test_a_chunk_out_of_time_stops_between_rows_and_keeps_the_rest(setup):
    _, _, ledger, limiter = setup
    clock = Clock()
    vendor = ScriptedVendor({})

    def send(row):  # each vendor call takes one second
        vendor(row)
        clock.now += 1

    runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=POLICY, lease_s=0.01, send=send,
                         sleep=lambda s: None, budget=Budget(2.5, clock))
    outcome = runner.run(ROWS)
    # Rows started before the budget ran out finish; no row starts after it
    assert (outcome.delivered, outcome.stop_reason) == (3, OUT_OF_TIME)
    assert outcome.stopped == ROWS[3:]
    assert vendor.sent == [row.fields["phone"] for row in ROWS[:3]]


def test_rows_another_copy_holds_go_on_with_the_rest_when_out_of_time(setup, r, key_prefix):
    _, job_id, ledger, limiter = setup
    clock = Clock()
    other_copy = Ledger(r, Keys(key_prefix), job_id, lease_s=30)  # another owner, maybe a dead worker
    assert other_copy.claim(ROWS[0].line).may_send
    vendor = ScriptedVendor({})

    def send(row):
        vendor(row)
        clock.now += 1

    runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=POLICY, lease_s=30, send=send,
                         sleep=lambda s: pytest.fail("no lease wait once out of time"), budget=Budget(3.5, clock))
    outcome = runner.run(ROWS)
    # This message may be the only one left with the held row: it goes on too, not waited for
    assert outcome.stop_reason == OUT_OF_TIME
    assert outcome.delivered == 4
    assert outcome.stopped == [ROWS[5], ROWS[0]]


def test_a_limiter_wait_ends_when_the_time_is_up(setup):
    _, _, ledger, _ = setup
    clock = Clock()

    class FullSchedule:
        """Every slot is further away than max_wait: each try is refused, and takes a second."""

        def reserve(self, slots=1, missed=0):
            clock.now += 1
            return Reservation(False, 10.0)

    runner = ChunkRunner(ledger=ledger, limiter=FullSchedule(), retry=POLICY, lease_s=0.01, sleep=lambda s: None,
                         send=lambda row: pytest.fail("nothing may be sent"), budget=Budget(3, clock))
    outcome = runner.run(ROWS)
    assert (outcome.stop_reason, outcome.stopped, clock.now) == (OUT_OF_TIME, ROWS, 3)


def test_a_batch_chunk_out_of_time_keeps_the_rest(setup):
    _, _, ledger, limiter = setup
    clock = Clock()
    vendor = ScriptedBatches()

    def send_batch(rows):
        vendor(rows)
        clock.now += 1

    runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=POLICY, lease_s=0.01, batch_size=2,
                         send_batch=send_batch, sleep=lambda s: None, budget=Budget(1.5, clock))
    outcome = runner.run(ROWS)
    assert (outcome.delivered, outcome.stop_reason) == (4, OUT_OF_TIME)
    assert outcome.stopped == ROWS[4:]


def test_rows_a_dead_copy_held_are_taken_over_when_its_lease_ends_not_a_whole_lease_later(setup, r):
    store, job_id, ledger, limiter = setup
    # Given a row claimed by a worker that then died, its lease ending in about 0.3 s
    assert Ledger(r, store._keys, job_id, lease_s=30).claim(ROWS[0].line).may_send
    seconds, micros = r.time()
    r.hset(store._keys.claims(job_id), ROWS[0].line, seconds * 1000 + micros // 1000 + 300)
    slept: list[float] = []
    vendor = ScriptedVendor({})

    def sleep(seconds):
        slept.append(seconds)
        time.sleep(seconds)

    runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=POLICY, lease_s=30, send=vendor, sleep=sleep)
    outcome = runner.run(ROWS)
    # Then this copy waits out that lease (not 30 s) and sends the row, counted as an unknown outcome
    assert len(slept) == 1 and slept[0] < 1
    assert outcome.delivered == len(ROWS) and ROWS[0].fields["phone"] in vendor.sent
    assert store.status(job_id).unknown_outcome == 1
