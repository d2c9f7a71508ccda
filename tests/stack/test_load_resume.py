"""A producer killed with -9 mid-file: its job ends as aborted, what it counted goes out, and
`telequeue load ... --resume JOB FILE` sends the rest, every number once. Real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from tests.support.data import write_contacts
from tests.support.stack import Stack
from workers.dev import devstack
from workers.jobs.store import JobStore
from workers.redis.keys import Keys

#: a producer whose 4th publish hangs: the test kills it there, with that chunk counted, unsent
STUCK_PRODUCER = textwrap.dedent('''
    import sys, time
    import workers.app
    from workers.jobs.kinds.ringostat_campaign import load_campaign_csv

    real, calls = workers.app.publish, []

    def publish(task, kwargs, **options):
        calls.append(1)
        if len(calls) > 3:
            time.sleep(3600)
        real(task, kwargs, **options)

    workers.app.publish = publish
    load_campaign_csv(sys.argv[1], campaign_id=int(sys.argv[2]), publish=publish,
                      on_created=lambda job_id: print(job_id, flush=True))
''')


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("resume"), chunk_size="50", producer_lease_s="2")
    s.start_worker(concurrency=4)
    yield s
    s.stop()


def test_a_killed_producer_is_ended_as_aborted_and_resume_sends_the_rest_once(stack, tmp_path):
    valid = write_contacts(tmp_path / "c.csv", 600, offset=720_000)
    store, keys = JobStore(stack.redis, Keys(stack.prefix)), Keys(stack.prefix)
    proc = subprocess.Popen([sys.executable, "-c", STUCK_PRODUCER, str(tmp_path / "c.csv"), "2001"],
                            env={**os.environ, **stack.env}, stdout=subprocess.PIPE, text=True)
    job_id = proc.stdout.readline().strip()
    devstack.wait_until(lambda: stack.redis.hget(keys.job(job_id), "batches") == b"4", 30, "the 4th chunk to be counted")
    assert stack.redis.llen(keys.outbox(job_id)) == 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    # A worker notices the lapsed lease, with nobody reading the job: aborted, and the counted
    # chunk the producer never published goes out too
    devstack.wait_until(lambda: stack.redis.hget(keys.job(job_id), "state") == b"aborted", 15, "the reaper")
    devstack.wait_until(lambda: store.status(job_id).finished, 30, "the counted rows to be sent")
    status = store.status(job_id)
    assert (status.delivered, status.last_line, status.pending) == (200, 201, 0)

    # Another file of the same name is refused loudly (another name: tests/stack/test_resume_kinds.py)
    changed = tmp_path / "changed" / "c.csv"
    changed.parent.mkdir()
    changed.write_text("phone;fio\n+380930000001;X\n", encoding="utf-8")
    other = stack.cli("load", "ringostat-campaign", "--campaign", "2001", "--resume", job_id, str(changed))
    assert other.returncode == 1 and "is not the file job" in other.stderr, other.stderr

    # The same command with --resume sends the rest, once each
    result = stack.cli("load", "ringostat-campaign", "--campaign", "2001", "--resume", job_id, str(tmp_path / "c.csv"),
                       "--timeout", "60")
    assert result.returncode == 0, result.stderr
    got = Counter(row["phone_number"] for row in stack.rows(2001))
    assert set(got) == valid and max(got.values()) == 1
    status = store.status(job_id)
    assert (status.state, status.delivered, status.total, status.unknown_outcome) == ("done", 600, 600, 0)
