"""Redis Sentinel: a job rides out the loss of its Redis master.

Real processes on loopback, on free ports with their own data directories: a master, a replica
and three Sentinels (quorum 2). Broker, result backend and telequeue's own client all get the
same `sentinel://…` URL. The master is SIGKILLed mid-job; the Sentinels promote the replica; the
job completes with no row lost. Replication is asynchronous, so the ledger may lose its record of
the last rows delivered before the kill and send them again: the test counts those duplicates
(at the vendor) and bounds them; it does not pretend there are none.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import redis

from tests.support.data import write_contacts
from tests.support.delivery import status
from tests.support.stack import Stack
from workers.dev import devstack
from workers.recovery.heartbeat import heartbeat_redis
from workers.redis.connection import sentinel_client
from workers.redis.keys import Keys
from workers.runtime import secret_store
from workers.settings import get_settings

MASTER = "tqmaster"
ROWS, OFFSET, CAMPAIGN = 1500, 930_000, 930


def start_redis_node(*extra: str) -> tuple[int, subprocess.Popen]:
    port = devstack.free_port()
    workdir = tempfile.mkdtemp(prefix="telequeue-sentinel-test-")
    proc = devstack.run_redis_server(["--port", str(port), "--bind", devstack.LOOPBACK, "--save", "",
                                      "--appendonly", "no", "--dir", workdir, *extra], f"redis://127.0.0.1:{port}/0")
    return port, proc


def start_sentinel(master_port: int) -> tuple[int, subprocess.Popen]:
    port = devstack.free_port()
    workdir = Path(tempfile.mkdtemp(prefix="telequeue-sentinel-test-"))
    conf = workdir / "sentinel.conf"  # a Sentinel rewrites its own config: a file of its own
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n"
                    f"sentinel down-after-milliseconds {MASTER} 1000\n"
                    f"sentinel failover-timeout {MASTER} 10000\n")
    proc = devstack.run_redis_server([str(conf), "--sentinel"], f"redis://127.0.0.1:{port}/0")
    return port, proc


@pytest.fixture
def sentinel_redis():
    """(master port, master process, sentinel:// URL, a Sentinel's port) once every Sentinel knows the
    replica and the other Sentinels."""
    procs: list[subprocess.Popen] = []
    try:
        master_port, master = start_redis_node()
        procs.append(master)
        replica_port, replica = start_redis_node("--replicaof", "127.0.0.1", str(master_port))
        procs.append(replica)
        sentinel_ports = []
        for _ in range(3):
            port, proc = start_sentinel(master_port)
            procs.append(proc)
            sentinel_ports.append(port)

        def settled() -> bool:
            # The replica holds the master's data only once its first sync is done: Redis 7 waits
            # repl-diskless-sync-delay (5 s) before it sends it, and a replica promoted before that
            # is empty (the job, its ledger and the broker's queues lost with the master).
            if redis.Redis(port=replica_port).info("replication").get("master_link_status") != "up":
                return False
            for port in sentinel_ports:
                s = redis.Redis(port=port, decode_responses=True)
                if len(s.sentinel_slaves(MASTER)) < 1 or len(s.sentinel_sentinels(MASTER)) < 2:
                    return False
            return True

        devstack.wait_until(settled, 30, "the replica in sync and the Sentinels to know it and each other", interval_s=0.3)
        url = ";".join(f"sentinel://127.0.0.1:{port}/0" for port in sentinel_ports)
        yield master_port, master, url, sentinel_ports[0]
    finally:
        for proc in reversed(procs):
            devstack.stop(proc)


def test_a_job_completes_when_the_redis_master_dies_mid_job(sentinel_redis, tmp_path):
    master_port, master, url, sentinel_port = sentinel_redis
    # Given a stack whose broker, results and own keys all go through the Sentinels
    stack = Stack(f"redis://127.0.0.1:{master_port}/0", tmp_path, "--latency-ms", "5", chunk_size="20",
                  visibility_timeout_s="8", redis_sentinel_master=MASTER,
                  broker_transport_options='{"unacked_restore_interval": 1, "unacked_restore_throttle": 1}',
                  ringostat__accounts__default__rate_per_s="100", ringostat__accounts__default__burst="10")
    stack.env["TELEQUEUE_REDIS_URL"] = url
    stack.redis = sentinel_client(url, MASTER)
    try:
        stack.start_worker(concurrency=8)
        valid = write_contacts(tmp_path / "c.csv", ROWS, offset=OFFSET)
        load = stack.cli("load", "ringostat-campaign", "--campaign", str(CAMPAIGN), "--detach", str(tmp_path / "c.csv"))
        assert load.returncode == 0, load.stderr
        job_id = load.stdout.strip()
        # (watched at the vendor: a CLI start per poll is too slow on a busy machine)
        devstack.wait_until(lambda: len(stack.rows(CAMPAIGN)) >= 200, 40, "the job to get going", interval_s=0.3)
        # The worker beats through the Sentinels too: without it, no dead-worker recovery, no probe
        assert stack.redis.zcard(Keys(stack.prefix).workers()) == 1
        # When the master dies mid-job
        devstack.stop(master, sig=signal.SIGKILL)
        assert len(stack.rows(CAMPAIGN)) < ROWS, "the job finished before the master died: nothing was tested"
        # Then the Sentinels promote the replica, and the job completes through it
        follow = stack.cli("job", "follow", job_id, "--timeout", "60", timeout_s=90)
        assert follow.returncode == 0, follow.stdout[-1000:] + follow.stderr[-2000:]
        final = status(stack, job_id)
        assert (final["delivered"], final["failed"], final["pending"]) == (ROWS, 0, 0)
        assert redis.Redis(port=sentinel_port).sentinel_get_master_addr_by_name(MASTER)[1] != master_port
        # With no row lost at the vendor; rows sent twice are counted, and no more than a few chunks' worth
        received = Counter(row["phone_number"] for row in stack.rows(CAMPAIGN))
        assert set(received) == valid, f"lost: {sorted(valid - set(received))[:5]}"
        duplicates = sum(n - 1 for n in received.values())
        print(f"rows sent twice after the failover: {duplicates}")
        assert duplicates <= 100
    finally:
        stack.stop()


def test_the_sentinel_url_is_kombus_form_for_every_client():
    from workers.celeryconf import celery_config
    from workers.settings import Settings

    url = "sentinel://:p%40ss@s1:26379/3;sentinel://:p%40ss@s2:26380/3"
    client = sentinel_client(url, "prod")
    pool = client.connection_pool
    assert [(c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs["port"])
            for c in pool.sentinel_manager.sentinels] == [("s1", 26379), ("s2", 26380)]
    assert pool.service_name == "prod"
    assert (pool.connection_kwargs["password"], pool.connection_kwargs["db"]) == ("p@ss", 3)
    conf = celery_config(Settings(redis_url=url, redis_sentinel_master="prod"))
    assert conf["broker_url"] == conf["result_backend"] == url
    assert conf["broker_transport_options"]["master_name"] == "prod"
    assert conf["result_backend_transport_options"]["master_name"] == "prod"
    # the worker's heartbeat and the secret store go through the same Sentinels
    settings = Settings(redis_url=url, redis_sentinel_master="prod")
    assert heartbeat_redis(settings).connection_pool.service_name == "prod"
    assert secret_store._redis(url).connection_pool.service_name == get_settings().redis_sentinel_master
