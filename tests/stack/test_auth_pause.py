"""A refused key pauses the job at the first 401, says why, and `job resume` after the fix sends every row."""

from __future__ import annotations

import json
from collections import Counter

from tests.support.data import write_contacts
from tests.support.stack import PROJECT_ID, SECRET_KEY, Stack


def test_a_refused_key_pauses_the_job_and_resume_after_the_fix_sends_every_row(redis_url, tmp_path):
    stack = Stack(redis_url, tmp_path, chunk_size="10")
    try:
        stack.start_worker(queues="ringostat.badkey,bulk", concurrency=4)
        valid = write_contacts(tmp_path / "c.csv", 30, offset=400_000)
        # Given a load on the account whose key the vendor refuses
        load = stack.cli("load", "ringostat-campaign", "--campaign", "900", "--account", "badkey", "--detach",
                         str(tmp_path / "c.csv"))
        assert load.returncode == 0, load.stderr
        job_id = load.stdout.strip()
        # When it is followed: it stops at the pause with the reason, instead of failing 30 rows with 401
        follow = stack.cli("job", "follow", job_id, "--timeout", "60", timeout_s=90)
        assert follow.returncode == 1
        assert f"job {job_id} paused at the first auth error: ringostat HTTP 401" in follow.stderr + follow.stdout
        assert f"telequeue job resume {job_id}" in follow.stderr + follow.stdout
        status = json.loads(stack.cli("job", "status", job_id, "--json").stdout)
        assert (status["state"], status["failed"], status["delivered"]) == ("paused", 0, 0)
        assert "Invalid Auth-key" in status["pause_reason"]
        assert "paused because" in stack.cli("job", "status", job_id).stdout
        # at most one 401 per chunk that was already sending when the first one paused the job
        assert stack.sandbox.control.stats()["status_counts"].get("401", 0) <= 3
        # Then, once the key is good again (the vendor re-enabled it), resume sends every row once
        stack.sandbox.control.configure(projects={PROJECT_ID: f"{SECRET_KEY}-refused"})
        assert stack.cli("job", "resume", job_id).returncode == 0
        follow = stack.cli("job", "follow", job_id, "--timeout", "60", timeout_s=90)
        assert follow.returncode == 0, follow.stderr
        received = Counter(row["phone_number"] for row in stack.rows(900))
        assert set(received) == valid and max(received.values()) == 1
        status = json.loads(stack.cli("job", "status", job_id, "--json").stdout)
        assert (status["state"], status["delivered"], status["pause_reason"]) == ("done", 30, "")
    finally:
        stack.stop()
