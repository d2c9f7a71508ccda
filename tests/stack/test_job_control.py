"""Pause, resume, cancel and retry-failed with real workers: nothing lost, counters true."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.support.data import write_contacts
from tests.support.stack import Stack
from workers.dev import devstack


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    # 4 threads, 8 rows in flight each, paced by a limit of 300/s: a 2,000-row job takes a few
    # seconds, long enough to steer
    s = Stack(redis_url, tmp_path_factory.mktemp("control"), "--latency-ms", "5", chunk_size="20",
              retry__in_task_attempts="1", retry__max_task_retries="0", rows_in_flight="8",
              ringostat__accounts__default__rate_per_s="300")
    s.start_worker(concurrency=4)
    yield s
    s.stop()


def start(stack, tmp_path, campaign, n, offset):
    valid = write_contacts(tmp_path / "c.csv", n, offset=offset)
    load = stack.cli("load", "ringostat-campaign", "--campaign", str(campaign), "--detach", str(tmp_path / "c.csv"))
    assert load.returncode == 0, load.stderr
    return load.stdout.strip(), valid


def status(stack, job_id):
    return json.loads(stack.cli("job", "status", job_id, "--json").stdout)


def received(stack, campaign):
    return Counter(row["phone_number"] for row in stack.rows(campaign))


def test_pause_stops_sending_and_resume_finishes_exactly_once(stack, tmp_path):
    job_id, valid = start(stack, tmp_path, 1000, 2000, 600_000)
    devstack.wait_until(lambda: len(stack.rows(1000)) >= 100, 30, "sending to start")
    assert stack.cli("job", "pause", job_id).returncode == 0
    time.sleep(2)  # in-flight rows land; no new ones start
    paused_at = len(stack.rows(1000))
    time.sleep(2)
    assert len(stack.rows(1000)) == paused_at < 2000
    assert status(stack, job_id)["state"] == "paused"
    assert stack.cli("job", "resume", job_id).returncode == 0
    assert stack.cli("job", "follow", job_id, "--timeout", "60").returncode == 0
    got = received(stack, 1000)
    assert set(got) == valid and max(got.values()) == 1
    assert status(stack, job_id)["delivered"] == 2000


def test_cancel_ends_the_job_with_every_row_accounted_for(stack, tmp_path):
    job_id, _ = start(stack, tmp_path, 1001, 2000, 610_000)
    devstack.wait_until(lambda: len(stack.rows(1001)) >= 100, 30, "sending to start")
    assert stack.cli("job", "cancel", job_id).returncode == 0
    devstack.wait_until(lambda: status(stack, job_id)["pending"] == 0, 60, "the cancel to reach every chunk")
    final = status(stack, job_id)
    assert final["state"] == "cancelled"
    assert final["delivered"] + final["cancelled"] == 2000 and final["cancelled"] > 0
    time.sleep(1)
    assert len(stack.rows(1001)) == final["delivered"]
    report = stack.cli("job", "report", job_id).stdout
    assert report.count(",cancelled,") == final["cancelled"]


def test_retry_failed_sends_only_the_failed_rows_once_the_cause_is_fixed(stack, tmp_path):
    # Given a vendor that is down: with no retries left, rows fail with the vendor's error
    stack.sandbox.control.configure(error_rate=1.0)
    job_id, valid = start(stack, tmp_path, 1002, 30, 620_000)
    follow = stack.cli("job", "follow", job_id, "--timeout", "60")
    assert follow.returncode == 0, follow.stderr
    assert status(stack, job_id)["failed"] == 30
    # When the vendor is back and the operator retries the failed rows
    stack.sandbox.control.configure(error_rate=0.0)
    assert stack.cli("job", "retry-failed", job_id).returncode == 0
    assert stack.cli("job", "follow", job_id, "--timeout", "60").returncode == 0
    # Then they are delivered, once, and the counters say so
    final = status(stack, job_id)
    assert (final["delivered"], final["failed"], final["state"]) == (30, 0, "done")
    assert Counter(row["phone_number"] for row in stack.rows(1002)) == Counter({p: 1 for p in valid})


def test_control_of_an_unknown_job_is_a_clear_error(stack):
    result = stack.cli("job", "pause", "nope")
    assert result.returncode == 1 and "no job 'nope'" in result.stderr
