"""Non-idempotent single operations never run twice: the vendor applies the request, then the
answer is lost (a hang past the read timeout, a 502, the worker killed -9). Every operation
that is not safe to repeat ends reconciled-success or OutcomeUnknownError, applied once."""

from __future__ import annotations

import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from celery import Celery

from tasks.catalog import load_all
from tasks.operations import OPERATIONS
from tests.support.stack import Stack
from workers.celeryconf import celery_config
from workers.dev import devstack
from workers.runtime.secret_store import SecretRefAMQP
from workers.settings import Settings

SITE = {"managers": [{"phone": "+79990001122"}]}
#: every vendor times out after 1 s (the sandbox holds a hung answer 3 s), every call ends within 1.5 s;
#: a lease is then 1.5 + 5 s, Pozvonim's 4 x 1.5 + 20 (the token lock's wait) + 5 s (WorkerRuntime.call_lease_s)
FAST = {f"{vendor}__{name}": value for vendor in ("pozvonim", "obzvonilka", "salesscriptprompter", "ringostat")
        for name, value in (("read_timeout_s", "1"), ("connect_timeout_s", "0.5"), ("total_timeout_s", "1.5"))}


def client_app(stack: Stack) -> Celery:
    settings = Settings(redis_url=stack.env["TELEQUEUE_REDIS_URL"], key_prefix=stack.prefix,
                        broker_key_prefix=stack.env["TELEQUEUE_BROKER_KEY_PREFIX"])
    app = Celery(f"once-{stack.prefix}", set_as_current=False, amqp=SecretRefAMQP)
    app.conf.update(celery_config(settings))
    return app


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("once"), "--hang-s", "3", **FAST)
    s.start_worker(queues="ringostat,pozvonim,obzvonilka,salesscriptprompter,bulk", concurrency=16)
    yield s
    s.stop()


def run(app, task: str, payload: dict, timeout_s: float = 40):
    handle = app.send_task(task, kwargs=payload)
    value = handle.get(timeout=timeout_s, propagate=False)
    return handle.state, value


def ok(app, task: str, **payload):
    state, value = run(app, task, payload)
    assert state == "SUCCESS", value
    return value


def pozvonim_rows(stack, kind: str, **match) -> list[dict]:
    return [r for r in stack.sandbox.control.rows(vendor="pozvonim", kind=kind)
            if all(r.get(k) == v for k, v in match.items())]


def cases(stack, app, tag: str) -> dict[str, tuple[dict, object]]:
    """Per non-idempotent operation: (payload, applications()) -> how many times the sandbox applied it."""
    site = ok(app, "pozvonim.sites.create", site={"url": f"https://base-{tag}.example"}, **SITE)
    owner = ok(app, "pozvonim.contributors.create", email=f"owner-{tag}@example.com", password="secret-1")
    when = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0).isoformat()
    n = int(uuid.uuid4().int % 10**6)
    rows = stack.sandbox.control.rows
    return {
        "ringostat.campaign_rows.add": ({"campaign_id": 900, "phone_number": f"38093{n:07d}"},
                                        lambda: len([r for r in stack.rows(900) if r["phone_number"] == f"38093{n:07d}"])),
        "pozvonim.sites.create": ({"site": {"url": f"https://new-{tag}.example"}, **SITE},
                                  lambda: len(pozvonim_rows(stack, "site.create", url=f"https://new-{tag}.example"))),
        "pozvonim.calls.now": ({"site_id": site["id"], "phone": f"7999{n:07d}"},
                               lambda: len(pozvonim_rows(stack, "call.now", phone=f"7999{n:07d}"))),
        "pozvonim.calls.delayed": ({"site_id": site["id"], "phone": f"7998{n:07d}", "delayed": when},
                                   lambda: len(pozvonim_rows(stack, "call.delayed", phone=f"7998{n:07d}"))),
        "pozvonim.contributors.create": (
            {"email": f"new-{tag}@example.com", "password": "secret-2"},
            lambda: len(pozvonim_rows(stack, "contributor.create", email=f"new-{tag}@example.com"))),
        "pozvonim.contributors.create_with_site": (
            {"email": f"both-{tag}@example.com", "password": "secret-3", "site": {"url": f"https://both-{tag}.example"},
             **SITE},
            lambda: len(pozvonim_rows(stack, "contributor.create_with_site", email=f"both-{tag}@example.com"))),
        "pozvonim.contributor_sites.create": (
            {"contributor_id": owner["id"], "site": {"url": f"https://owned-{tag}.example"}, **SITE},
            lambda: len(pozvonim_rows(stack, "site.create", url=f"https://owned-{tag}.example"))),
        "pozvonim.payments.transfer": ({"contributor_id": owner["id"], "amount": "10"},
                                       lambda: len(pozvonim_rows(stack, "payment", contributor_id=owner["id"],
                                                                 via="payments/contributors/:id"))),
        "pozvonim.contributor_payments.transfer": (
            {"contributor_id": owner["id"], "amount": "20"},
            lambda: len(pozvonim_rows(stack, "payment", contributor_id=owner["id"], via="contributors/:id/payments"))),
        "obzvonilka.contacts.create": (
            {"base_id": 1, "contact": {"name": "Coded", "phone1": f"38067{n:07d}", "external_code": f"X-{tag}"}},
            lambda: len(rows(vendor="obzvonilka", action="create", external_code=f"X-{tag}"))),
        "obzvonilka.contacts.create#uncoded": (
            {"base_id": 1, "contact": {"name": f"Uncoded {tag}", "phone1": f"38066{n:07d}"}},
            lambda: len([r for r in rows(vendor="obzvonilka", action="create")
                         if r["fields"].get("name") == f"Uncoded {tag}"])),
        "salesscriptprompter.field.create": (
            {"code": f"f_{tag}", "name": f"Field {tag}", "type": "string"},
            lambda: len([r for r in rows(vendor="salesscriptprompter", op="field/create") if r.get("code") == f"f_{tag}"])),
    }


#: operations with no lookup: an unknown outcome ends as OutcomeUnknownError
NO_LOOKUP = {"ringostat.campaign_rows.add", "pozvonim.payments.transfer", "pozvonim.contributor_payments.transfer",
             "obzvonilka.contacts.create#uncoded"}


@pytest.mark.parametrize("fault", ["hang", "502"])
def test_applied_then_answer_lost_is_applied_once(stack, fault):
    app = client_app(stack)
    tag = f"{fault}{uuid.uuid4().hex[:6]}"
    table = cases(stack, app, tag)
    load_all()
    assert {name.split("#")[0] for name in table} == {name for name, op in OPERATIONS.items() if not op.idempotent}
    # Given a vendor that applies each of the next writes, then hangs past the read timeout (or answers 502)
    stack.sandbox.control.configure(apply_fault=fault, apply_fault_count=len(table))
    # When every operation that is not safe to repeat is sent once, all at the same time
    with ThreadPoolExecutor(len(table)) as pool:
        outcomes = dict(zip(table, pool.map(lambda name: run(app, name.split("#")[0], table[name][0]), table)))
    stack.sandbox.control.configure(apply_fault="", apply_fault_count=0)
    # Then each was applied exactly once, and ended reconciled-success or outcome-unknown
    assert {name: count() for name, (_, count) in table.items()} == {name: 1 for name in table}
    ended = {name: (state, type(value).__name__ if state != "SUCCESS" else "ok") for name, (state, value) in outcomes.items()}
    assert ended == {name: ("FAILURE", "OutcomeUnknownError") if name in NO_LOOKUP else ("SUCCESS", "ok")
                     for name in table}
    reconciled = outcomes["pozvonim.contributors.create"][1]
    assert reconciled["email"] == f"new-{tag}@example.com" and "password" not in reconciled
    # And the outcomes are counted where /metrics reads them
    stats = {k.decode(): int(v) for k, v in stack.redis.hgetall(f"{stack.prefix}once:stats").items()}
    assert stats.get("pozvonim.payments.transfer|outcome_unknown", 0) >= 1
    assert stats.get("pozvonim.calls.now|reconciled_applied", 0) >= 1


def test_send_wait_shows_outcome_unknown(stack):
    stack.sandbox.control.configure(apply_fault="502", apply_fault_count=1)
    result = stack.cli("send", "ringostat.campaign_rows.add", "--wait", "20",
                       "--payload", '{"campaign_id": 901, "phone_number": "380930000901"}')
    assert result.returncode == 1 and "OutcomeUnknownError" in result.stdout, result.stdout + result.stderr
    assert len(stack.rows(901)) == 1


def test_a_password_in_the_clear_is_refused(stack):
    # A plain Celery app (without SecretRefAMQP) would put the password in the message: refused loudly
    plain = Celery(f"plain-{stack.prefix}", set_as_current=False)
    plain.conf.update(client_app(stack).conf)
    state, error = run(plain, "pozvonim.contributors.create", {"email": "clear@example.com", "password": "secret-9"})
    assert state == "FAILURE" and "must travel by reference" in str(error)
    assert not pozvonim_rows(stack, "contributor.create", email="clear@example.com")


@pytest.fixture
def crash_stack(redis_url, tmp_path):
    # A killed worker's unacked message comes back within seconds
    s = Stack(redis_url, tmp_path, "--hang-s", "30", visibility_timeout_s="4", **FAST,
              broker_transport_options='{"unacked_restore_interval": 1, "unacked_restore_throttle": 1}')
    yield s
    s.stop()


def test_worker_killed_mid_call_does_not_call_twice(crash_stack):
    stack = crash_stack
    app = client_app(stack)
    doomed = stack.start_worker("doomed", queues="pozvonim,bulk")
    site = ok(app, "pozvonim.sites.create", site={"url": "https://crash.example"}, **SITE)
    # Given a call the vendor applies, then holds the answer of
    stack.sandbox.control.configure(apply_fault="hang", apply_fault_count=1)
    handle = app.send_task("pozvonim.calls.now", kwargs={"site_id": site["id"], "phone": "79990009999"})
    devstack.wait_until(lambda: len(pozvonim_rows(stack, "call.now", phone="79990009999")) == 1, 20, "the call")
    # When the worker dies mid-call (main process and all) and another one takes over
    devstack.stop(doomed, sig=signal.SIGKILL)
    stack.start_worker("survivor", queues="pozvonim,bulk")
    # Then the redelivered message finds the call at the vendor instead of ringing again
    assert handle.get(timeout=60)["phone"] == "79990009999"
    time.sleep(1)
    assert len(pozvonim_rows(stack, "call.now", phone="79990009999")) == 1
    assert stack.redis.hget(f"{stack.prefix}once:{handle.id}", "state") == b"sent"


def test_the_issue_s_call_with_default_settings_rings_once(redis_url, tmp_path):
    # Given the defaults a user runs (10 s read timeout, 2 s backoff base) and a vendor that
    # applies a call, then answers only after 15 s
    stack = Stack(redis_url, tmp_path, "--hang-s", "15")
    for tuned in [k for k in stack.env if k.startswith(("TELEQUEUE_RETRY__", "TELEQUEUE_ROW_LEASE_S"))
                  or k.endswith(("_TIMEOUT_S", "__RATE_PER_S"))]:
        del stack.env[tuned]
    try:
        stack.start_worker(queues="pozvonim,bulk")
        site = ok(client_app(stack), "pozvonim.sites.create", site={"url": "https://defaults.example"}, **SITE)
        stack.sandbox.control.configure(apply_fault="hang", apply_fault_count=1)
        # When a user sends one call and waits for it
        result = stack.cli("send", "pozvonim.calls.now", "--wait", "60",
                           "--payload", f'{{"site_id": {site["id"]}, "phone": "79990001515"}}', timeout_s=90)
        # Then it succeeds with the call the vendor made, and the customer was called once
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"phone": "79990001515"' in result.stdout
        assert len(pozvonim_rows(stack, "call.now", phone="79990001515")) == 1
    finally:
        stack.stop()
