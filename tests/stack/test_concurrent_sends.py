"""Rows of a chunk in flight at once (TELEQUEUE_ROWS_IN_FLIGHT), seen at the vendor: the bound,
the limit, and a kill -9 mid-chunk."""

from __future__ import annotations

import signal

from tests.support.data import write_contacts
from tests.support.stack import PROJECT_ID, Stack
from tests.support.delivery import assert_exactly_once_except_unknown, delivered, line_map, status
from tests.support.limits import assert_limit_held_at_vendor, vendor_limit
from tests.support.liveness import load_and_find_holder
from workers.dev import devstack


def test_a_chunk_keeps_rows_in_flight_at_the_vendor_and_never_more(redis_url, tmp_path):
    # Given a vendor answering after 200 ms and one worker with one pool slot, 8 rows in flight per chunk
    stack = Stack(redis_url, tmp_path, "--latency-ms", "200", chunk_size="16", rows_in_flight="8")
    try:
        stack.start_worker(concurrency=1)
        valid = write_contacts(tmp_path / "c.csv", 32, offset=700_000)
        # When two chunks of 16 rows run, one after the other
        load = stack.cli("load", "ringostat-campaign", "--campaign", "930", str(tmp_path / "c.csv"), timeout_s=120)
        assert load.returncode == 0, load.stderr
        # Then the vendor saw 8 requests at once, never more (one after another would be 1)
        stats = stack.sandbox.control.stats()
        assert stats["in_flight_max"] == 8
        rows = stack.rows(930)
        assert {row["phone_number"] for row in rows} == valid and stats["duplicates"] == 0
        # And the 32 rows reached the vendor within well under 32 x 0.2 s (the first chunk: its first
        # row alone, then two rounds of 8, ~0.6 s; the second, the key now trusted, two rounds of 8)
        times = [row["t"] for row in rows]
        assert max(times) - min(times) < 32 * 0.2 / 2, f"{max(times) - min(times):.1f} s"
    finally:
        stack.stop()


def test_the_limit_holds_at_the_vendor_with_rows_in_flight(redis_url, tmp_path):
    # Given a vendor 100 ms away that answers 429 above 60/s, and an account limited to 60/s, burst 2:
    # two workers of two slots could send 40/s one row at a time, so the rate needs rows in flight
    rate, burst = 60, 2
    stack = Stack(redis_url, tmp_path, "--latency-ms", "100", "--rate", vendor_limit(PROJECT_ID, rate, burst),
                  chunk_size="40", rows_in_flight="8", ringostat__accounts__default__rate_per_s=str(rate),
                  ringostat__accounts__default__burst=str(burst))
    try:
        for name in ("a", "b"):
            stack.start_worker(name, concurrency=2)
        valid = write_contacts(tmp_path / "c.csv", 360, offset=710_000)
        load = stack.cli("load", "ringostat-campaign", "--campaign", "931", str(tmp_path / "c.csv"), timeout_s=120)
        assert load.returncode == 0, load.stderr
        # Then every row arrived, never more than rate + burst in any 1 s window, no 429, the rate used
        stats = stack.sandbox.control.stats()
        assert_limit_held_at_vendor(stack.rows(931), valid, stats, rate=rate, burst=burst)
        assert stats["in_flight_max"] > 4  # more than one request per pool slot
    finally:
        stack.stop()


def test_a_worker_killed_mid_chunk_with_rows_in_flight_sends_no_row_twice_uncounted(redis_url, tmp_path):
    # Given default settings (8 rows in flight per chunk), a vendor 200 ms away, and two workers
    stack = Stack(redis_url, tmp_path, "--latency-ms", "200", defaults=True)
    try:
        valid = write_contacts(tmp_path / "c.csv", 100, offset=720_000)
        workers = [stack.start_worker(f"w{i}", concurrency=1) for i in range(2)]
        job_id, doomed = load_and_find_holder(stack, workers, tmp_path / "c.csv", 932)
        devstack.wait_until(lambda: delivered(stack, job_id) >= 20, 30, "the chunk to be under way")
        # When the worker holding it is killed with -9 while 8 of its rows are at the vendor
        devstack.stop(doomed, sig=signal.SIGKILL)
        assert delivered(stack, job_id) < 90
        follow = stack.cli("job", "follow", job_id, "--timeout", "150", timeout_s=180)
        # Then the other worker sends the rest: every row arrives, and a row sent twice is only one
        # of those in flight at the kill (claimed, its answer lost), counted as an unknown outcome
        assert follow.returncode == 0, follow.stderr
        assert status(stack, job_id)["delivered"] == 100
        assert assert_exactly_once_except_unknown(stack, job_id, 932, valid, line_map(100, 720_000)) <= 8
    finally:
        stack.stop()
