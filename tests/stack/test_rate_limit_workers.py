"""The global limit through real worker processes, measured where it matters: at the vendor."""

from __future__ import annotations

from tests.support.data import write_contacts
from tests.support.limits import assert_limit_held_at_vendor, vendor_limit
from tests.support.stack import PROJECT_ID, Stack

RATE, BURST = 30, 2


def test_three_workers_share_one_limit(redis_url, tmp_path):
    # Given a vendor that answers 429 above RATE/s (with a little slack for network jitter)
    stack = Stack(redis_url, tmp_path, "--rate", vendor_limit(PROJECT_ID, RATE, BURST), chunk_size="10",
                  ringostat__accounts__default__rate_per_s=str(RATE),
                  ringostat__accounts__default__burst=str(BURST))
    try:
        # And three worker processes with four threads each, all on the same account
        for name in ("a", "b", "c"):
            stack.start_worker(name, concurrency=4)
        valid = write_contacts(tmp_path / "c.csv", 240, offset=500_000)
        # When a job of 8 seconds' worth of rows runs
        load = stack.cli("load", "ringostat-campaign", "--campaign", "900", str(tmp_path / "c.csv"), timeout_s=120)
        assert load.returncode == 0, load.stderr
        # Then every row arrived, never more than RATE + BURST in any 1 s window, and no 429
        assert_limit_held_at_vendor(stack.rows(900), valid, stack.sandbox.control.stats(), rate=RATE, burst=BURST)
        # And more than one worker did the sending (the schedule is shared, not owned)
        logs = [stack.log(name).read_text() for name in ("a", "b", "c")]
        assert sum("add_chunk" in log and "succeeded" in log for log in logs) >= 2
    finally:
        stack.stop()
