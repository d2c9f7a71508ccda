"""Redis killed with -9 mid-load and restarted from its AOF (appendfsync everysec): the load,
the worker and the job ride it out. A private redis-server on a free port with its own dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.support.data import write_contacts
from tests.support.redis_server import start_redis
from tests.support.stack import Stack
from workers.dev import devstack
from workers.jobs.store import JobStore
from workers.redis.keys import Keys

ROWS = 1000
RATE_PER_S = 150


@pytest.fixture
def aof_redis():
    workdir = tempfile.mkdtemp(prefix="telequeue-aof-")
    url, proc = start_redis(appendonly=True, appendfsync="everysec", workdir=workdir)
    server = {"url": url, "proc": proc, "workdir": workdir}
    yield server
    devstack.stop(server["proc"])


def test_a_load_rides_out_redis_killed_and_restarted_from_its_aof(aof_redis, tmp_path):
    stack = Stack(aof_redis["url"], tmp_path, ringostat__accounts__default__rate_per_s=str(RATE_PER_S),
                  ringostat__accounts__default__burst="5")
    try:
        stack.start_worker(concurrency=4)
        valid = write_contacts(tmp_path / "c.csv", ROWS, offset=730_000)
        load = subprocess.Popen([sys.executable, "-m", "workers", "load", "ringostat-campaign", "--campaign", "3001",
                                 str(tmp_path / "c.csv")], env={**os.environ, **stack.env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        devstack.wait_until(lambda: len(stack.rows(3001)) >= 300, 60, "sending to start")

        # Redis dies mid-load, and comes back from its AOF a few seconds later on the same port
        aof_redis["proc"].send_signal(signal.SIGKILL)
        aof_redis["proc"].wait(10)
        time.sleep(3)
        port = urlsplit(aof_redis["url"]).port
        _, aof_redis["proc"] = start_redis(port, appendonly=True, workdir=aof_redis["workdir"])

        out, err = load.communicate(timeout=120)
        assert load.returncode == 0, err[-2000:]
        assert "waiting for Redis" in err and "Redis is back after" in err
        worker_log = stack.log("w0").read_text(errors="replace")
        assert "waiting for Redis" in worker_log and "Redis is back after" in worker_log
        job_id = err.split("job ", 1)[1].split()[0]
        status = JobStore(stack.redis, Keys(stack.prefix)).status(job_id)
        got = Counter(row["phone_number"] for row in stack.rows(3001))
        # Every row delivered; every duplicate the vendor saw is counted as an unknown outcome
        assert set(got) == valid and status.delivered == ROWS and status.state == "done"
        duplicates = sum(n - 1 for n in got.values())
        assert duplicates <= status.unknown_outcome, (duplicates, status.unknown_outcome)
        print(f"duplicates at the vendor {duplicates}, counted unknown outcomes {status.unknown_outcome}")
    finally:
        stack.stop()
