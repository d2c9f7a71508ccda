"""What the chunk runner does with each claim verdict on a batch's retry, without Redis: a line
the job does not have (badline) is skipped alone; a pause still stops the whole batch."""

from __future__ import annotations

import time

from tasks.chunk_runner import ChunkRunner, JobRow
from tasks.retry import RetryPolicy
from vendors.errors import VendorServerError
from workers.jobs.ledger import Claim, Claims
from workers.limits.limiter import Reservation

ROWS = [JobRow(line, {"phone": f"38093000000{line}"}, [line, f"38093000000{line}"]) for line in (2, 3, 4)]


class Ledger:
    """Claims as a job's ledger answers them: claim_many() (a batch's first send) grants every
    line, claim() (its retries) answers `on_retry` for the lines it names."""

    def __init__(self, on_retry: dict[int, Claim]) -> None:
        self.on_retry = on_retry
        self.delivered: list[int] = []
        self.released: list[int] = []

    def finished_lines(self, lines):
        return set()

    def claim_many(self, lines, *, extra_lease_s=0.0, delivered=()):
        self.delivered_many(delivered)
        return Claims(stop=None, verdicts={line: Claim.CLAIMED for line in lines})

    def claim(self, line):
        return self.on_retry.get(line, Claim.CLAIMED)

    def release(self, line, *, unknown_outcome):
        self.released.append(line)
        return True

    def delivered_many(self, lines):
        self.delivered.extend(lines)
        return [True] * len(lines)

    def job_state(self):
        return "running"

    def stopped(self):
        return False

    def lease_left_s(self, lines):
        return 0.0


class Limiter:
    """Every slot free at once."""

    def reserve(self, slots=1, missed=0):
        now = time.monotonic()
        return Reservation(granted=True, wait_s=0.0, last_s=0.0, due=(now,) * slots)

    def acquire(self, *, should_stop=lambda: False, slots=1):
        return True

    def keep_reserved(self, due):
        pass

    def quiet(self):
        return False

    def late(self, due):
        return False

    def missed(self, due):
        return False

    def start_by(self, due):
        return float("inf")


class FailsFirst:
    """A vendor that takes a list of rows: its first request meets a 503, the rest go through."""

    def __init__(self) -> None:
        self.requests: list[list[int]] = []

    def __call__(self, rows):
        self.requests.append([row.line for row in rows])
        if len(self.requests) == 1:
            raise VendorServerError("boom", vendor="ringostat", status=503)


def run(on_retry: dict[int, Claim]):
    ledger, vendor = Ledger(on_retry), FailsFirst()
    runner = ChunkRunner(ledger=ledger, limiter=Limiter(), retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                         send_batch=vendor, batch_size=3, sleep=lambda s: None)
    return runner.run(ROWS), ledger, vendor


def test_a_line_the_job_does_not_have_is_skipped_alone_on_a_retry():
    outcome, ledger, vendor = run({3: Claim.BADLINE})
    # The retry sends the batch's other rows, and nothing stops, defers or fails
    assert vendor.requests == [[2, 3, 4], [2, 4]]
    assert ledger.delivered == [2, 4] and outcome.delivered == 2
    assert (outcome.stopped, outcome.stop_reason, outcome.deferred, outcome.failed) == ([], "", [], 0)


def test_a_pause_met_on_a_retry_still_stops_the_batch_and_gives_its_claims_back():
    outcome, ledger, vendor = run({3: Claim.PAUSED})
    assert vendor.requests == [[2, 3, 4]]
    assert ledger.delivered == [] and outcome.stop_reason == "paused"
    assert [row.line for row in outcome.stopped] == [2, 3, 4]
    assert ledger.released == [2, 3, 4, 2]  # the 503's release, then line 2's claim given back
