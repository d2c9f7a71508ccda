"""A flaky vendor, and secrets that must never leave the settings (a crashing worker: tests/stack/test_recovery.py)."""

from __future__ import annotations

import pytest

from tests.support.data import write_contacts
from tests.support.delivery import assert_exactly_once_except_unknown, job_id_of, line_map, status
from tests.support.stack import SECRET_KEY, Stack


@pytest.fixture
def flaky_stack(redis_url, tmp_path):
    # 20 % of requests answer 5xx; 2 % hang past the client's 2 s timeout after accepting the row
    s = Stack(redis_url, tmp_path, "--error-rate", "0.2", "--hang-rate", "0.02", "--hang-s", "4", "--seed", "7")
    s.start_worker(concurrency=16)
    yield s
    s.stop()


def test_flaky_vendor_every_row_delivered_duplicates_only_after_timeouts(flaky_stack, tmp_path):
    stack = flaky_stack
    valid = write_contacts(tmp_path / "c.csv", 800, offset=100_000)
    job_id = job_id_of(stack.cli("load", "ringostat-campaign", "--campaign", "600", "--detach", str(tmp_path / "c.csv")))
    follow = stack.cli("job", "follow", job_id, "--timeout", "150", timeout_s=200)
    assert follow.returncode == 0, follow.stderr
    final = status(stack, job_id)
    assert (final["delivered"], final["failed"], final["pending"]) == (800, 0, 0)
    stats = stack.sandbox.control.stats()
    assert stats["status_counts"].get("500", 0) + stats["status_counts"].get("502", 0) + \
        stats["status_counts"].get("503", 0) > 50  # the faults really happened
    assert stats["hangs"] > 0
    assert_exactly_once_except_unknown(stack, job_id, 600, valid, line_map(800, 100_000))


def test_no_secret_in_messages_results_or_logs(redis_url, tmp_path):
    stack = Stack(redis_url, tmp_path)
    try:
        stack.start_worker(queues="ringostat,ringostat.badkey,bulk")
        write_contacts(tmp_path / "c.csv", 50, offset=300_000, bad=2)
        outputs = [
            stack.cli("load", "ringostat-campaign", "--campaign", "800", str(tmp_path / "c.csv")),
            stack.cli("load", "ringostat-campaign", "--campaign", "801", "--account", "badkey", str(tmp_path / "c.csv")),
            stack.cli("send", "ringostat.campaign_rows.add", "--wait", "20",
                      "--payload", '{"campaign_id": 802, "phone_number": "380931234567", "fio": "A"}'),
            stack.cli("send", "ringostat.campaign_rows.add", "--wait", "20",
                      "--payload", '{"campaign_id": 802, "phone_number": "380931234568", "account": "badkey"}'),
        ]
        assert outputs[2].returncode == 0 and '"result": true' in outputs[2].stdout.replace("\n", " ").replace("  ", " ")
        assert outputs[3].returncode == 1 and "Invalid Auth-key" in outputs[3].stdout
        # Every key in this Redis: broker queues, unacked messages, results, job data
        for key in stack.redis.scan_iter(count=1000):
            dump = stack.redis.dump(key) or b""
            assert SECRET_KEY.encode() not in dump, f"secret found in Redis key {key!r}"
        for result in outputs:
            assert SECRET_KEY not in result.stdout + result.stderr
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
        assert "campaign_rows.add" in logs  # the worker did log the tasks it ran
        assert SECRET_KEY not in logs
    finally:
        stack.stop()
