"""A worker killed with -9: its rows send again within seconds, with the settings a user runs.

Every stack here is Stack(defaults=True): row lease, read timeout, retry backoff, visibility
timeout, heartbeat and dead-after times are the shipped defaults. Only the vendor's rate and
the sizes of the jobs are chosen, to make the kill land mid-job.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.support.data import write_contacts
from tests.support.stack import Stack
from tests.support.delivery import assert_exactly_once_except_unknown, delivered, job_id_of, line_map, status
from tests.support.liveness import held_of, load_and_find_holder, record_of
from workers.dev import devstack
from workers.settings import Settings

DEFAULTS = Settings()
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
#: the promise of the README: a dead worker's rows send again this soon after it dies
RECOVERY_S = 30.0


def rabbitmq_missing() -> str:
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl not found (a vhost per test stack needs it)"
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError as exc:
        return f"no RabbitMQ answers at 127.0.0.1:5672 ({exc})"
    return ""


BROKERS = [
    pytest.param("", id="redis"),
    pytest.param(RABBITMQ_URL, id="rabbitmq", marks=pytest.mark.skipif(bool(rabbitmq_missing()),
                                                                       reason=rabbitmq_missing() or "-")),
]


def recovery_s(stack: Stack, campaign: int, valid: set[str], killed_at: float) -> float:
    """Seconds from the kill to the first row, unsent by then, that reached the vendor."""
    rows = stack.rows(campaign)
    sent_before = {row["phone_number"] for row in rows if row["t"] <= killed_at + 1}  # +1: in flight at the kill
    stranded = valid - sent_before
    assert stranded, "the kill must land while the dead worker still holds unsent rows"
    return min(row["t"] for row in rows if row["phone_number"] in stranded) - killed_at


@pytest.mark.parametrize("broker_url", BROKERS)
def test_a_killed_workers_rows_send_again_within_30_s_with_default_settings(redis_url, tmp_path, broker_url):
    # Given default settings, a 20/s limit, three workers, and a job of one 100-row chunk
    stack = Stack(redis_url, tmp_path, defaults=True, broker_url=broker_url,
                  ringostat__accounts__default__rate_per_s="20", ringostat__accounts__default__burst="1")
    try:
        valid = write_contacts(tmp_path / "c.csv", 100, offset=600_000)
        workers = [stack.start_worker(f"w{i}", concurrency=2) for i in range(3)]
        job_id, doomed = load_and_find_holder(stack, workers, tmp_path / "c.csv", 920)
        assert [entry["rows"] for entry in held_of(stack, doomed, job_id)] == [100]
        devstack.wait_until(lambda: delivered(stack, job_id) >= 20, 30, "the chunk to be under way")
        # When the worker holding it is killed with -9 (main process and pool at once), mid-chunk
        killed_at = time.time()
        devstack.stop(doomed, sig=signal.SIGKILL)
        assert delivered(stack, job_id) < 90
        # Readers of the liveness records see it gone within worker_dead_after_s
        assert 0 < stack.redis.pttl(f"{stack.prefix}worker:{socket.gethostname()}:{doomed.pid}") \
            <= DEFAULTS.worker_dead_after_s * 1000
        follow = stack.cli("job", "follow", job_id, "--timeout", "150", timeout_s=180)
        # Then its rows send again within 30 s, the job completes, 0 rows lost, duplicates only counted ones
        assert follow.returncode == 0, follow.stderr
        resumed_s = recovery_s(stack, 920, valid, killed_at)
        assert resumed_s <= RECOVERY_S, f"rows sent again {resumed_s:.1f} s after the kill"
        assert status(stack, job_id)["delivered"] == 100
        assert assert_exactly_once_except_unknown(stack, job_id, 920, valid, line_map(100, 600_000)) <= 2
        print(f"rows of the killed worker sent again {resumed_s:.1f} s after the kill")
    finally:
        stack.stop()


def test_prefork_and_threads_workers_record_what_they_hold_and_keep_it_fresh(redis_url, tmp_path):
    # Given a prefork worker (tasks run in child processes; the main process holds the messages)
    # and a threads worker, two pool slots each, and a slow job of four chunks
    stack = Stack(redis_url, tmp_path, defaults=True, ringostat__accounts__default__rate_per_s="10",
                  ringostat__accounts__default__burst="1")
    try:
        workers = [stack.start_worker("prefork", pool="prefork", concurrency=2),
                   stack.start_worker("threads", pool="threads", concurrency=2)]
        devstack.wait_until(lambda: all(record_of(stack, w) for w in workers), 60, "the workers' records")
        write_contacts(tmp_path / "c.csv", 400, offset=610_000)
        job_id = job_id_of(stack.cli("load", "ringostat-campaign", "--campaign", "921", "--detach",
                                     str(tmp_path / "c.csv")))
        devstack.wait_until(lambda: all(len(held_of(stack, w, job_id)) == 2 for w in workers), 60,
                            "each worker to hold two chunks")
        # Then each record names the worker and the chunks it holds
        for worker in workers:
            record = record_of(stack, worker)
            assert record["pid"] == worker.pid and "ringostat" in record["queues"]
            assert all(entry["rows"] == 100 and entry["queue"] == "ringostat" and
                       entry["started_at"] <= record["seen_at"] for entry in record["held"])
        # And their messages' scores in kombu's unacked index move on with every beat
        index = f"{stack.prefix}broker:unacked_index"
        first = dict(stack.redis.zrange(index, 0, -1, withscores=True))
        assert len(first) == 4
        time.sleep(2.5 * DEFAULTS.heartbeat_interval_s)
        later = dict(stack.redis.zrange(index, 0, -1, withscores=True))
        assert later.keys() == first.keys() and all(later[tag] > first[tag] for tag in first)
        assert stack.cli("job", "cancel", job_id).returncode == 0
    finally:
        stack.stop()


def test_chaos_a_worker_killed_every_5_s_loses_nothing_and_load_ends_in_time(redis_url, tmp_path):
    rows, rate_per_s, threads = 3000, 100, 4
    # Given default settings, a 100/s limit, two steady workers and one that is killed every 5 s
    stack = Stack(redis_url, tmp_path, defaults=True, ringostat__accounts__default__rate_per_s=str(rate_per_s),
                  ringostat__accounts__default__burst="1")
    try:
        valid = write_contacts(tmp_path / "c.csv", rows, offset=620_000)
        steady = [stack.start_worker(f"steady{i}", concurrency=threads) for i in range(2)]
        churned = stack.start_worker("churned0", concurrency=threads)
        devstack.wait_until(lambda: all(record_of(stack, w) for w in [*steady, churned]), 60, "the workers")
        # When `telequeue load` runs (the CLI, following the job to its end) through the kills
        deadline_s = rows / rate_per_s + 60
        output = open(tmp_path / "load.out", "w")
        started = time.monotonic()
        load = subprocess.Popen([sys.executable, "-m", "workers", "load", "ringostat-campaign", "--campaign", "930",
                                 str(tmp_path / "c.csv")], env={**os.environ, **stack.env},
                                stdout=output, stderr=subprocess.STDOUT)
        kills = 0
        try:
            while load.poll() is None and time.monotonic() - started < deadline_s + 30:
                time.sleep(5)
                if load.poll() is None:
                    devstack.stop(churned, sig=signal.SIGKILL)
                    kills += 1
                    churned = stack.start_worker(f"churned{kills}", concurrency=threads)
            load.wait(max(1.0, deadline_s + 30 - (time.monotonic() - started)))
        finally:
            elapsed_s = time.monotonic() - started
            if load.poll() is None:
                load.kill()
            output.close()
        # Then it exits 0 within rows/rate + 60 s, with every row delivered and duplicates bounded and counted
        assert load.returncode == 0, (tmp_path / "load.out").read_text()[-2000:]
        assert elapsed_s <= deadline_s, f"load took {elapsed_s:.0f} s through {kills} kills"
        assert kills >= 3
        job_id = re.search(r"job (\S+)", (tmp_path / "load.out").read_text()).group(1)
        assert status(stack, job_id)["delivered"] == rows
        duplicates = assert_exactly_once_except_unknown(stack, job_id, 930, valid, line_map(rows, 620_000))
        assert duplicates <= kills * threads, f"{duplicates} duplicates through {kills} kills"
        print(f"chaos: {rows} rows at {rate_per_s}/s, {kills} kills, load exited 0 after {elapsed_s:.0f} s, "
              f"{duplicates} duplicates")
    finally:
        stack.stop()
