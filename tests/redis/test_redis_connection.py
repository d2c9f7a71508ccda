"""The Redis client waits out an outage (a restart) and says so; a Redis never reached fails at once."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.support.redis_server import start_redis
from workers.dev import devstack
from workers.redis import connection as redis_conn


@pytest.fixture
def reports(monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(redis_conn, "_reporter", lines.append)
    monkeypatch.setattr(redis_conn, "OUTAGE", redis_conn._Outage())
    return lines


def client(url: str, budget_s: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1,
                                retry=redis_conn.OutageRetry(url, budget_s))


def test_a_call_waits_for_a_restarted_redis_and_goes_on(reports, tmp_path):
    url, proc = start_redis(appendonly=True, workdir=str(tmp_path))
    try:
        r = client(url, budget_s=20)
        r.set("k", "before")
        proc.kill()
        proc.wait(5)

        def restart():
            time.sleep(2)
            nonlocal proc
            _, proc = start_redis(int(url.rsplit(":", 1)[1].split("/")[0]), appendonly=True,
                                           workdir=str(tmp_path))

        threading.Thread(target=restart).start()
        started = time.monotonic()
        assert r.get("k") == b"before"  # waited through the restart, data from the AOF
        assert 1.5 < time.monotonic() - started < 15
        assert reports[0].startswith(f"waiting for Redis at {url}") and "giving up after 20 s" in reports[0]
        assert reports[-1].startswith("Redis is back after")
    finally:
        devstack.stop(proc)


def test_an_outage_longer_than_the_budget_fails(reports, tmp_path):
    url, proc = devstack.start_redis()
    r = client(url, budget_s=1)
    r.ping()
    devstack.stop(proc)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        r.ping()
    assert 0.9 < time.monotonic() - started < 5


def test_a_redis_never_reached_fails_at_once(reports):
    url = f"redis://127.0.0.1:{devstack.free_port()}/0"
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client(url, budget_s=60).ping()
    assert time.monotonic() - started < 1 and reports == []
