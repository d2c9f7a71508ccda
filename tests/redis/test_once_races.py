"""Races of non-idempotent single operations (tasks/once.py) on a real Redis ledger: copies of
one task id (a kombu publish retry, the deferred mover's re-publish, the reaper after a missed
beat) never both send, whatever the limiter, the leases and Redis' replies do."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from celery.exceptions import Ignore

from tasks import runtime as task_runtime
from tasks.once import Reconcile, run_once
from tasks.retry import RetryPolicy
from vendors import deadline
from vendors.pozvonim import TokenStoreBusy
from workers.redis.keys import Keys
from workers.routing import VENDORS
from workers.runtime.once_ledger import OnceLedger
from workers.runtime.tokens import LOCK_WAIT_S, RedisTokenStore
from workers.runtime.worker_runtime import LEASE_MARGIN_S, WorkerRuntime
from workers.settings import Settings

TASK_ID = "call-1"


class Limiter:
    """Records the ledger as it was when each slot was taken; `wait` runs while it 'waits'."""

    def __init__(self, ledger: OnceLedger) -> None:
        self.ledger, self.seen, self.wait = ledger, [], None

    def acquire(self, **_):
        self.seen.append(self.ledger.state(TASK_ID))
        wait, self.wait = self.wait, None
        if wait:
            wait()
        return True

    def penalize(self, retry_after_s):
        pass


class Runtime:
    retry = RetryPolicy(max_task_retries=8, backoff_base_s=0.1, backoff_max_s=0.1)

    def __init__(self, r, keys, *, lease_s: float) -> None:
        self.ledger = OnceLedger(r, keys, ttl_s=600)
        self.lease_s, self.deferred, self.counts = lease_s, [], []
        self.slots = Limiter(self.ledger)

    def once(self):
        return self.ledger

    def call_lease_s(self, vendor):
        return self.lease_s

    def call_budget_s(self, vendor):
        return self.lease_s / 2

    def limiter(self, vendor, account):
        return self.slots

    def count_once(self, task_name, event):
        self.counts.append(event)

    def defer(self, task_name, kwargs, *, delay_s, **options):
        self.deferred.append(options["retries"])


@pytest.fixture
def rt(r, key_prefix):
    runtime = Runtime(r, Keys(key_prefix), lease_s=0.4)
    task_runtime.install(runtime)
    yield runtime
    task_runtime._runtime = None


def copy(attempt: int = 0):
    """One message of the task id (every copy carries the same id and attempt)."""
    request = SimpleNamespace(id=TASK_ID, retries=attempt, kwargs={})
    return SimpleNamespace(request=request, name="pozvonim.calls.now",
                           backend=SimpleNamespace(mark_as_retry=lambda *a, **k: None))


class Vendor:
    """Rings a customer per send; the lookup finds the calls made so far."""

    def __init__(self) -> None:
        self.calls, self.during_lookup = [], None

    def send(self):
        self.calls.append(deadline.left_s())
        return {"id": len(self.calls)}

    def find(self, client, payload, sent_at_s):
        found = {"id": len(self.calls)} if self.calls else None
        during, self.during_lookup = self.during_lookup, None
        if during:  # after the vendor answered, before this run acts on the answer
            during()
        return found

    def op(self):
        return SimpleNamespace(name="pozvonim.calls.now", vendor="pozvonim", reconcile=Reconcile("calls", self.find))


def run(vendor: Vendor, task) -> object:
    try:
        return run_once(task, vendor.op(), None, SimpleNamespace(account="default"), vendor.send, lambda x: x)
    except Ignore:
        return Ignore


def until_done(rt: Runtime, vendor: Vendor) -> object:
    """The deferred mover: runs each deferred copy until one returns."""
    for _ in range(10):
        if not rt.deferred:
            return None
        result = run(vendor, copy(rt.deferred.pop(0)))
        if result is not Ignore:
            return result
        time.sleep(rt.lease_s)
    raise AssertionError("never done")


def test_the_limiter_wait_happens_before_the_lease_starts(rt):
    vendor = Vendor()
    # Given copy A waits on a saturated limiter longer than a lease; copy B of the same task id
    # arrives meanwhile, and again after any lease it found would have lapsed
    def copy_b_arrives():
        first = run(vendor, copy())
        time.sleep(rt.lease_s + 0.1)
        if first is Ignore:
            until_done(rt, vendor)
    rt.slots.wait = copy_b_arrives
    # When A finally gets its slot
    result_a = run(vendor, copy())
    # Then A took its slot before it held the task id, and the customer was called once
    assert rt.slots.seen[0] == {}
    assert len(vendor.calls) == 1 and result_a == {"id": 1}
    assert "redelivered_after_send" in rt.counts


def test_two_copies_racing_through_check_send_at_most_once(rt):
    vendor = Vendor()
    # Given a first run lost mid-call (its lease lapsed, nothing sent)
    rt.ledger.enter(TASK_ID, attempt=0, lease_s=0.1)
    time.sleep(0.2)
    # And copy A checking, so slowly that its lease lapses and copy B checks too
    def copy_b_checks():
        time.sleep(rt.lease_s + 0.1)
        run(vendor, copy())
    vendor.during_lookup = copy_b_checks
    # When both found nothing at the vendor, and every copy they deferred runs
    result_a = run(vendor, copy())
    result = until_done(rt, vendor)
    # Then the customer was called once, by the one run the ledger let send
    assert len(vendor.calls) == 1
    assert result_a is Ignore and result == {"id": 1}
    assert rt.ledger.state(TASK_ID)["state"] == "sent"
    assert rt.counts.count("reconciled_absent_resent") == 1


def test_a_run_taken_over_writes_nothing(r, key_prefix):
    once = OnceLedger(r, Keys(key_prefix), ttl_s=600)
    a = once.enter("t", attempt=0, lease_s=0.1)
    time.sleep(0.2)
    b = once.enter("t", attempt=0, lease_s=30)
    assert (a.verdict, b.verdict) == ("send", "check")
    # A (its lease lapsed, B took over) can neither renew, clear, record nor hand on
    assert not once.renew("t", a.run, attempt=0, lease_s=30)
    assert not once.clear("t", a.run, attempt=0)
    assert not once.sent("t", a.run, {"id": 1}, attempt=0)
    assert not once.handoff("t", a.run, attempt=0, next_attempt=1, unknown=False)
    assert once.state("t")["state"] == "checking"
    assert once.clear("t", b.run, attempt=0) and once.state("t")["state"] == "cleared"


def test_a_replayed_enter_gets_its_own_decision_not_busy(r, key_prefix):
    # redis-py replays a script whose reply a dropped connection lost: same arguments, same run token
    once = OnceLedger(r, Keys(key_prefix), ttl_s=600)
    first = once.enter("t", attempt=0, lease_s=30, run="run-1")
    replay = once.enter("t", attempt=0, lease_s=30, run="run-1")
    other = once.enter("t", attempt=0, lease_s=30, run="run-2")
    assert (first.verdict, replay.verdict, other.verdict) == ("send", "send", "busy")
    assert replay.sent_at_s == first.sent_at_s
    # A checking run's replay checks again (it was not decided for it to send)
    once.enter("u", attempt=0, lease_s=0.1, run="lost")
    time.sleep(0.2)
    assert [once.enter("u", attempt=0, lease_s=30, run="run-3").verdict for _ in range(2)] == ["check", "check"]


def test_every_call_of_a_run_ends_inside_its_lease(rt):
    vendor = Vendor()
    run(vendor, copy())
    # The send ran under vendors.deadline.within(budget): it ends before the lease does
    assert 0 < vendor.calls[0] <= rt.call_budget_s("pozvonim") < rt.lease_s


def test_with_defaults_a_lease_is_never_shorter_than_the_operation_s_bounded_time():
    settings = Settings()
    runtime = WorkerRuntime(publish=None, settings=settings)
    for vendor in VENDORS:
        total_s = settings.vendor(vendor).total_timeout_s
        assert runtime.call_budget_s(vendor) == runtime.call_lease_s(vendor) - LEASE_MARGIN_S
        assert runtime.call_budget_s(vendor) >= total_s
    # Pozvonim: a token fetch and the call, twice on a refused token, and the token lock's wait
    assert runtime.call_budget_s("pozvonim") >= 4 * settings.pozvonim.total_timeout_s + LOCK_WAIT_S


def test_the_token_lock_wait_ends_by_the_deadline(r, key_prefix):
    store = RedisTokenStore(r, f"{key_prefix}pozvonim:token:x", lock_wait_s=5)
    held = r.lock(f"{key_prefix}pozvonim:token:x:lock", timeout=10)
    assert held.acquire()
    started = time.monotonic()
    with deadline.within(0.3), pytest.raises(TokenStoreBusy):
        with store.lock():
            pass
    assert time.monotonic() - started < 1.5
    held.release()
