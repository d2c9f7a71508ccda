"""Shared fixtures: a real Redis (started when none answers), isolated by DB number and key prefix;
and each test's level marker, from the folder it lives in (`-m "not stack"` is the fast subset)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis

from workers.dev import devstack

TEST_REDIS_URL = os.environ.get("TELEQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
#: the test levels, by what their tests need: each is a folder of tests/ and a marker (pyproject.toml)
LEVELS = ("unit", "redis", "http", "stack", "deploy")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(item.path).resolve()
        if not path.is_relative_to(TESTS):
            continue
        parts = path.relative_to(TESTS).parts
        if len(parts) < 2 or parts[0] not in LEVELS:
            raise pytest.UsageError(f"{item.path}: a test module lives in one of tests/{{{','.join(LEVELS)}}}/, "
                                    "by what it needs (README, \"Running the tests\")")
        item.add_marker(parts[0])


@pytest.fixture(scope="session")
def redis_url():
    url, proc = devstack.ensure_redis(TEST_REDIS_URL)
    # Everything imported later (workers.app, settings) talks to this Redis.
    os.environ["TELEQUEUE_REDIS_URL"] = url
    from workers.settings import get_settings

    get_settings.cache_clear()
    # No FLUSHDB: several test sessions may share this DB; every test cleans up its own prefix.
    yield url
    devstack.stop(proc)


@pytest.fixture
def r(redis_url):
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def key_prefix(r):
    prefix = f"tqtest-{uuid.uuid4().hex[:8]}:"
    yield prefix
    for key in r.scan_iter(match=f"{prefix}*", count=1000):
        r.delete(key)
