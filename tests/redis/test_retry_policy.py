"""The one retry policy (tasks/retry.py): `TELEQUEUE_RETRY__*` reaches single operations as it
reaches chunks, through the worker's runtime."""

from __future__ import annotations

import json
import os
import random

import pytest

import tasks.runtime
from tasks.base import VendorCallFailed
from tasks.obzvonilka import get_user
from tasks.retry import IN_TASK_BACKOFF_MAX_S, RetryPolicy, backoff_s
from vendors.errors import VendorTimeout
from workers.redis.keys import Keys
from workers.runtime.worker_runtime import WorkerRuntime
from workers.settings import Settings, get_settings


class TimingOut:
    """An Obzvonilka client whose every call times out (a transient failure)."""

    def __init__(self) -> None:
        self.calls = 0

    def get_user(self, user_id):
        self.calls += 1
        raise VendorTimeout("no answer in time", vendor="obzvonilka")


@pytest.fixture
def runtime(redis_url, key_prefix, monkeypatch):
    """The real WorkerRuntime built from env settings; its vendor client times out."""
    monkeypatch.setenv("TELEQUEUE_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("TELEQUEUE_RETRY__MAX_TASK_RETRIES", "2")
    monkeypatch.setenv("TELEQUEUE_RETRY__BACKOFF_BASE_S", "40")
    monkeypatch.setenv("TELEQUEUE_RETRY__BACKOFF_MAX_S", "40")
    get_settings.cache_clear()
    runtime = WorkerRuntime(lambda name, kwargs, **_: None)
    vendor = TimingOut()
    runtime.client = lambda vendor_name, account: vendor  # type: ignore[method-assign]
    before = tasks.runtime._runtime
    tasks.runtime.install(runtime)
    yield vendor
    tasks.runtime._runtime = before
    get_settings.cache_clear()


def deferred(r, key_prefix) -> list[tuple[dict, float]]:
    """(entry, seconds until due) of every task in the deferred set."""
    now = float(r.eval("local t = redis.call('TIME') return tonumber(t[1]) + tonumber(t[2]) / 1000000", 0))
    return [(json.loads(raw), due - now) for raw, due in r.zrange(Keys(key_prefix).deferred(), 0, -1, withscores=True)]


def test_a_single_operation_retries_as_the_settings_say(runtime, r, key_prefix):
    # Given TELEQUEUE_RETRY__MAX_TASK_RETRIES=2, a 40 s backoff, and a vendor that times out
    # When the operation's first two runs meet the timeout
    for retries in (0, 1):
        assert get_user.apply(kwargs={"user_id": 7}, retries=retries).state == "IGNORED"
    # Then each went to the deferred set as the next retry of its task id, due after the
    # settings' backoff (20..40 s; the 2 s default would be due within 4 s)
    entries = deferred(r, key_prefix)
    assert sorted(entry["options"]["retries"] for entry, _ in entries) == [1, 2]
    assert all(entry["task"] == "obzvonilka.users.get" for entry, _ in entries)
    assert all(19 <= due_s <= 40 for _, due_s in entries), entries
    # And the third run, its retries spent, fails for good with the vendor's words
    result = get_user.apply(kwargs={"user_id": 7}, retries=2)
    assert result.state == "FAILURE" and isinstance(result.result, VendorCallFailed)
    assert "no answer in time" in str(result.result)
    assert runtime.calls == 3 and len(deferred(r, key_prefix)) == 2


def test_the_settings_model_is_the_policy_with_its_defaults(monkeypatch):
    # One model: `TELEQUEUE_RETRY__*` fills tasks.retry.RetryPolicy itself, with the defaults single
    # operations had as class attributes (8 retries, 2 s doubling to 120 s) and chunks had in settings
    for name in [k for k in os.environ if k.startswith("TELEQUEUE_RETRY__")]:
        monkeypatch.delenv(name)
    policy = Settings().retry
    assert type(policy) is RetryPolicy
    assert (policy.max_task_retries, policy.backoff_base_s, policy.backoff_max_s) == (8, 2.0, 120.0)
    assert (policy.in_task_attempts, policy.in_task_backoff_s) == (3, 0.2)
    assert policy.may_retry(7) and not policy.may_retry(8)
    monkeypatch.setenv("TELEQUEUE_RETRY__IN_TASK_ATTEMPTS", "5")
    monkeypatch.setenv("TELEQUEUE_RETRY__IN_TASK_BACKOFF_S", "0.5")
    assert (Settings().retry.in_task_attempts, Settings().retry.in_task_backoff_s) == (5, 0.5)


@pytest.mark.parametrize("attempt", [0, 1, 3, 10])
def test_delays_are_capped_exponential_with_jitter(attempt):
    policy = RetryPolicy(in_task_backoff_s=0.2, backoff_base_s=2.0, backoff_max_s=120.0)
    ceiling = min(120.0, 2.0 * 2 ** attempt)
    assert ceiling / 2 <= policy.round_delay_s(attempt) <= ceiling
    in_task_ceiling = min(IN_TASK_BACKOFF_MAX_S, 0.2 * 2 ** attempt)
    assert in_task_ceiling / 2 <= policy.in_task_delay_s(attempt) <= in_task_ceiling
    rng = random.Random(attempt)
    assert backoff_s(attempt, base_s=2.0, max_s=120.0, rng=rng) == random.Random(attempt).uniform(ceiling / 2, ceiling)
