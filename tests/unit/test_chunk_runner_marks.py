"""Delivered marks: those of the sends that ended go with the next group's claims; while a chunk
drains (no group left to launch, sends still in flight), those of sends that end within
GROUP_LINGER_S of each other go in one ledger call, none waits longer."""

from __future__ import annotations

import time

import pytest

from tasks import chunk_runner
from tasks.chunk_runner import ChunkRunner, JobRow
from tasks.key_trust import KeyTrust
from tasks.retry import RetryPolicy
from tests.unit.test_chunk_runner_claims import Limiter
from workers.jobs.ledger import Claim, Claims
from workers.limits.limiter import Reservation

ROWS = [JobRow(line, {"phone": f"38093000000{line}"}, [line, f"38093000000{line}"]) for line in (1, 2, 3)]


class Ledger:
    """Every row claimed; each delivered_many call kept, with when it came."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, list[int]]] = []
        #: the delivered marks each claim carried
        self.carried: list[list[int]] = []

    def finished_lines(self, lines):
        return set()

    def claim_many(self, lines, *, extra_lease_s=0.0, delivered=()):
        self.carried.append(sorted(delivered))
        return Claims(stop=None, verdicts={line: Claim.CLAIMED for line in lines})

    def delivered_many(self, lines):
        self.marks.append((time.monotonic(), sorted(lines)))
        return [True] * len(lines)

    def job_state(self):
        return "running"


def run(ends_after_s: dict[int, float], in_flight: int = 3) -> tuple[Ledger, float]:
    """The three rows, up to `in_flight` at once (a trusted key: no first send alone), each send
    ending after its time; the ledger and when the chunk started."""
    key = KeyTrust()
    key.accepted()
    ledger = Ledger()
    runner = ChunkRunner(ledger=ledger, limiter=Limiter(), retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                         send=lambda row: time.sleep(ends_after_s[row.line]), in_flight=in_flight, key=key)
    started = time.monotonic()
    assert runner.run(ROWS).delivered == 3
    return ledger, started


def test_sends_that_end_within_the_linger_as_the_chunk_drains_are_marked_in_one_call(monkeypatch):
    monkeypatch.setattr(chunk_runner, "GROUP_LINGER_S", 0.5)
    ledger, _ = run({1: 0.0, 2: 0.05, 3: 0.1})
    assert [lines for _, lines in ledger.marks] == [[1, 2, 3]]


def test_a_mark_held_as_the_chunk_drains_waits_no_longer_than_the_linger(monkeypatch):
    monkeypatch.setattr(chunk_runner, "GROUP_LINGER_S", 0.05)
    ledger, started = run({1: 0.0, 2: 0.0, 3: 0.6})
    assert [lines for _, lines in ledger.marks] == [[1, 2], [3]]
    assert ledger.marks[0][0] - started < 0.4  # rows 1 and 2 were not held for row 3


def test_the_marks_of_the_sends_that_ended_go_with_the_next_claim():
    # Given rows sent one at a time, each its own group
    ledger, _ = run({1: 0.0, 2: 0.0, 3: 0.0}, in_flight=1)
    # Then each row's delivered mark went with the next row's claim, the last one's on its own
    assert ledger.carried == [[], [1], [2]]
    assert [lines for _, lines in ledger.marks] == [[3]]


class BookedAhead(Limiter):
    """The first group's slots free at once, the second's booked 0.3 s ahead (the account's
    limit sets the pace: the chunk keeps fewer places in flight early on), then free again."""

    def __init__(self) -> None:
        self.reserves = 0

    def reserve(self, slots=1, missed=0):
        self.reserves += 1
        wait_s = 0.3 if self.reserves == 2 else 0.0
        due = time.monotonic() + wait_s
        return Reservation(granted=True, wait_s=wait_s, last_s=wait_s, due=(due,) * slots)


class WhenMarked(Ledger):
    """When each row was marked delivered, alone or carried by a claim."""

    def __init__(self) -> None:
        super().__init__()
        self.marked_at: dict[int, float] = {}

    def claim_many(self, lines, *, extra_lease_s=0.0, delivered=()):
        self.marked_at.update(dict.fromkeys(delivered, time.monotonic()))
        return super().claim_many(lines, extra_lease_s=extra_lease_s, delivered=delivered)

    def delivered_many(self, lines):
        self.marked_at.update(dict.fromkeys(lines, time.monotonic()))
        return super().delivered_many(lines)


def test_a_mark_waits_no_longer_than_the_linger_while_no_group_has_room():
    # Given 40 rows, 8 in flight: rows 1-2 end at once, rows 3-8 take 1 s; the next group
    # (rows 9-10) has its slots booked 0.3 s ahead, so the chunk keeps fewer places in flight
    # (room()) and no group can go before rows 3-8 end
    key = KeyTrust()
    key.accepted()
    ledger, ended = WhenMarked(), {}
    rows = [JobRow(line, {"phone": str(line)}, [line, str(line)]) for line in range(1, 41)]

    def send(row):
        time.sleep(1.0 if 3 <= row.line <= 8 else 0.0)
        ended[row.line] = time.monotonic()

    runner = ChunkRunner(ledger=ledger, limiter=BookedAhead(), retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                         send=send, in_flight=8, key=key)
    assert runner.run(rows).delivered == 40
    # Then rows 9 and 10, which ended at 0.3 s, were marked then, not held until a group had room
    assert {9, 10} <= set(ledger.marked_at)
    assert all(ledger.marked_at[line] - ended[line] < 0.2 for line in (9, 10)), ledger.marked_at


class FailsSecond(Limiter):
    """The first group's slots free at once; the second reserve fails (Redis went away)."""

    def __init__(self) -> None:
        self.reserves = 0

    def reserve(self, slots=1, missed=0):
        self.reserves += 1
        if self.reserves == 2:
            raise ConnectionError("limiter unreachable")
        return super().reserve(slots, missed)


def test_the_marks_held_for_the_next_claim_are_written_when_its_reserve_raises():
    # Given rows sent one at a time, the second's reserve raising
    ledger = Ledger()
    runner = ChunkRunner(ledger=ledger, limiter=FailsSecond(), retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                         send=lambda row: None, in_flight=1)
    # Then the error leaves the run, but the first row, which the vendor took, was marked first
    with pytest.raises(ConnectionError, match="limiter unreachable"):
        runner.run(ROWS)
    assert ledger.carried == [[]]
    assert [lines for _, lines in ledger.marks] == [[1]]


def test_a_mark_that_fails_after_the_reserve_raised_leaves_the_reserve_error_to_tell():
    class Down(Ledger):
        def delivered_many(self, lines):
            raise RuntimeError("ledger unreachable too")

    runner = ChunkRunner(ledger=Down(), limiter=FailsSecond(), retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                         send=lambda row: None, in_flight=1)
    with pytest.raises(ConnectionError, match="limiter unreachable"):
        runner.run(ROWS)


def test_the_sends_in_flight_when_a_reserve_raises_end_and_are_marked_before_the_error_leaves():
    # Given 2 in flight: row 1 ends at once, row 2 takes 0.3 s, and the reserve for the group
    # after row 1 raises while row 2 is still at the vendor
    key = KeyTrust()
    key.accepted()
    ledger = Ledger()
    rows = [JobRow(line, {"phone": str(line)}, [line, str(line)]) for line in range(1, 11)]

    def send(row):
        time.sleep(0.3 if row.line == 2 else 0.0)

    runner = ChunkRunner(ledger=ledger, limiter=FailsSecond(), retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                         send=send, in_flight=2, key=key)
    with pytest.raises(ConnectionError, match="limiter unreachable"):
        runner.run(rows)
    # Then row 2, which the vendor took after the error, was marked too: unmarked, another copy
    # of the chunk would send it again once its lease ran out
    assert sorted(line for _, lines in ledger.marks for line in lines) == [1, 2]
