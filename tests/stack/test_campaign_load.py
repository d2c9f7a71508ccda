"""The whole campaign load through the CLI: real Redis, worker processes and sandbox HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.support.data import write_contacts
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("load"))
    s.start_worker(queues="ringostat,ringostat.badkey,bulk")
    yield s
    s.stop()


def job_status(stack, job_id):
    result = stack.cli("job", "status", job_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cli_load_delivers_each_valid_number_exactly_once(stack, tmp_path):
    # Given a CSV of 3,000 valid contacts, 7 invalid numbers and 5 repeated ones
    valid = write_contacts(tmp_path / "c.csv", 3000, bad=7, dups=5)
    # When the operator loads it
    result = stack.cli("load", "ringostat-campaign", "--campaign", "456", str(tmp_path / "c.csv"))
    # Then the CLI exits 0 with a summary, and the sandbox got every valid number once
    assert result.returncode == 0, result.stderr
    received = Counter(row["phone_number"] for row in stack.rows(456))
    assert set(received) == valid
    assert max(received.values()) == 1
    assert {row["fio"] for row in stack.rows(456) if row["phone_number"] == "380930000002"} == {"Контакт 2"}
    # And the counters add up
    job_id = result.stderr.split("job ", 1)[1].split()[0]
    status = job_status(stack, job_id)
    assert (status["total"], status["delivered"], status["rejected"], status["failed"]) == (3012, 3000, 12, 0)
    assert status["delivered"] + status["failed"] + status["rejected"] == status["total"]
    assert status["state"] == "done" and status["pending"] == 0


def test_report_lists_rejects_with_line_numbers(stack, tmp_path):
    write_contacts(tmp_path / "c.csv", 50, offset=10_000, bad=2, dups=1)
    load = stack.cli("load", "ringostat-campaign", "--campaign", "457", "--detach", str(tmp_path / "c.csv"))
    assert load.returncode == 0, load.stderr
    job_id = load.stdout.strip()
    stack.cli("job", "follow", job_id, "--timeout", "60")
    report = stack.cli("job", "report", job_id)
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [(r["line"], r["status"]) for r in rows] == [("52", "rejected"), ("53", "rejected"), ("54", "rejected")]
    assert "duplicate of line 2" in rows[2]["reason"]
    assert rows[0]["phone"] == "123450"


def test_detach_returns_the_job_id_and_the_job_finishes(stack, tmp_path):
    write_contacts(tmp_path / "c.csv", 20, offset=20_000)
    load = stack.cli("load", "ringostat-campaign", "--campaign", "458", "--detach", str(tmp_path / "c.csv"))
    job_id = load.stdout.strip()
    follow = stack.cli("job", "follow", job_id, "--timeout", "60")
    assert follow.returncode == 0, follow.stderr
    assert job_status(stack, job_id)["delivered"] == 20


def test_a_refused_key_pauses_the_job_with_the_vendor_reason(stack, tmp_path):
    # Given an account whose key the vendor refuses (its own queue, served by the worker)
    write_contacts(tmp_path / "c.csv", 3, offset=30_000)
    # When rows are loaded through it
    load = stack.cli("load", "ringostat-campaign", "--campaign", "459", "--account", "badkey", str(tmp_path / "c.csv"))
    # Then the load stops at the pause with what the vendor said; no row failed, nothing was accepted
    assert load.returncode == 1 and "paused at the first auth error" in load.stderr
    job_id = load.stderr.split("job ", 1)[1].split()[0]
    status = job_status(stack, job_id)
    assert (status["state"], status["failed"], status["pending"]) == ("paused", 0, 3)
    assert "HTTP 401" in status["pause_reason"] and "Invalid Auth-key" in status["pause_reason"]
    assert stack.rows(459) == []


def test_unknown_account_is_a_clear_error(stack, tmp_path):
    write_contacts(tmp_path / "c.csv", 3, offset=40_000)
    load = stack.cli("load", "ringostat-campaign", "--campaign", "460", "--account", "nope", str(tmp_path / "c.csv"))
    assert load.returncode == 1
    assert "no ringostat account 'nope' configured" in load.stderr
    assert "Traceback" not in load.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["send", "ringostat.campaign_rows.add", "--payload", '{"campaign_id": 1, "phone_number": "12"}'],
         "phone_number: String should match pattern"),
        (["send", "ringostat.campaign_rows.add", "--payload", '[1, 2]'], "must be a JSON object"),
        (["send", "ringostat.campaign_rows.add", "--payload",
          '{"campaign_id": 1, "phone_number": "380930000000", "account": "acme"}'], "no ringostat account 'acme'"),
        (["send", "celery.backend_cleanup"], "no operation named"),
    ],
    ids=["invalid-payload", "not-an-object", "unknown-account", "not-an-operation"],
)
def test_send_refuses_what_no_worker_could_run(stack, args, expected):
    result = stack.cli(*args)
    assert result.returncode == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_redis_down_is_one_line(stack):
    env = {"TELEQUEUE_REDIS_URL": "redis://:pw@127.0.0.1:1/0"}
    result = subprocess.run([sys.executable, "-m", "workers", "job", "list"], capture_output=True, text=True,
                            env={**os.environ, **stack.env, **env}, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach Redis") and "pw" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
