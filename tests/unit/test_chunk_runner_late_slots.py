"""A send that reached its limiter slot too late (limiter.late) takes a new slot; without
Redis: when the new slot comes while the rows' leases cover it, the rows keep their claims."""

from __future__ import annotations

import time

from tasks.chunk_runner import ChunkRunner
from tasks.retry import RetryPolicy
from tests.unit.test_chunk_runner_claims import ROWS, Ledger, Limiter
from workers.limits.limiter import Reservation


class LateOnce(Limiter):
    """Every slot free at once, but the first slot a sender reaches is missed; a new slot
    comes `new_wait_s` from now."""

    def __init__(self, new_wait_s: float = 0.0) -> None:
        self.new_wait_s = new_wait_s
        #: (slots, late slots counted with them) of each reserve
        self.reserves: list[tuple[int, int]] = []
        self.lates = 0
        #: late slots counted on their own (missed())
        self.counted = 0

    def reserve(self, slots=1, missed=0):
        self.reserves.append((slots, missed))
        wait_s = self.new_wait_s if len(self.reserves) > 1 else 0.0
        return Reservation(granted=True, wait_s=wait_s, last_s=wait_s, due=(time.monotonic() + wait_s,) * slots)

    def late(self, due):
        self.lates += 1
        return self.lates == 1

    def missed(self, due):
        self.counted += 1
        return True

    def start_by(self, due):
        return float("inf")


class Counted(Ledger):
    def __init__(self) -> None:
        super().__init__({})
        self.claims: list[int] = []

    def claim(self, line):
        self.claims.append(line)
        return super().claim(line)


def run(limiter: LateOnce, lease_s: float = 30, send_budget_s: float | None = 10):
    ledger, sent = Counted(), []
    runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=RetryPolicy(in_task_attempts=3), lease_s=lease_s,
                         send=lambda row: sent.append(row.line), in_flight=1, send_budget_s=send_budget_s,
                         sleep=lambda s: None)
    return runner.run(ROWS[:1]), ledger, sent


def test_a_late_send_whose_new_slot_comes_at_once_keeps_its_claims():
    # Given a sender that got to its slot too late, and a limiter with a slot free now
    limiter = LateOnce(new_wait_s=0.0)
    # When the row is sent
    outcome, ledger, sent = run(limiter)
    # Then it went once, through a second slot, and its claim was neither given back nor made again
    assert sent == [2] and outcome.delivered == 1 and ledger.delivered == [2]
    assert len(limiter.reserves) == 2
    assert ledger.released == [] and ledger.claims == []


def test_a_late_slot_is_counted_by_the_reserve_of_its_new_one():
    # Given a sender that got to its slot too late
    limiter = LateOnce(new_wait_s=0.0)
    run(limiter)
    # Then the new slot's reserve counted the late one: no limiter call of its own
    assert limiter.reserves == [(1, 0), (1, 1)] and limiter.counted == 0


def test_a_late_send_whose_new_slot_the_lease_would_not_cover_gives_its_rows_back():
    # Given a sender late for its slot, and the next slot 0.2 s away, with a lease of 10.1 s
    # that the 10 s send budget and the wait would outlast
    limiter = LateOnce(new_wait_s=0.2)
    outcome, ledger, sent = run(limiter, lease_s=10.1, send_budget_s=10)
    # Then the row was given back and claimed again before it went (as a late send always did)
    assert sent == [2] and outcome.delivered == 1
    assert ledger.released == [2] and ledger.claims == [2]


class LateTwice(LateOnce):
    """A sender late for its first slot and for the new one too."""

    def late(self, due):
        self.lates += 1
        return self.lates <= 2


def test_a_send_late_for_its_new_slot_too_counts_that_one_on_its_own_and_gives_its_rows_back():
    # Given a sender late for its slot and for the new one the late slot's reserve got
    limiter = LateTwice(new_wait_s=0.0)
    outcome, ledger, sent = run(limiter)
    # Then the first late slot was counted by the new one's reserve, the second by missed()
    # (no reserve follows), and the row went on as a retry: given back, claimed again, sent once
    assert limiter.reserves == [(1, 0), (1, 1)] and limiter.counted == 1
    assert sent == [2] and outcome.delivered == 1
    assert ledger.released == [2] and ledger.claims == [2]
