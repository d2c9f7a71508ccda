"""Pozvonim tasks on a real worker: each operation group once through the CLI, the rest sent
by name from here (a CLI process per task would cost a second each), checked against what
the sandbox recorded. All worker threads share one token through Redis."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from celery import Celery

from tests.support.stack import Stack, vendor_secret
from workers.celeryconf import celery_config
from workers.runtime.secret_store import SecretRefAMQP
from workers.settings import Settings

SITE = {"site": {"url": "https://пример.рф"}, "managers": [{"phone": "+79990001122", "name": "Олена"}]}


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("pozvonim"))
    s.start_worker(queues="pozvonim,bulk")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def app(stack):
    settings = Settings(redis_url=stack.env["TELEQUEUE_REDIS_URL"], key_prefix=stack.prefix,
                        broker_key_prefix=stack.env["TELEQUEUE_BROKER_KEY_PREFIX"])
    client_app = Celery("pozvonim-tests", set_as_current=False, amqp=SecretRefAMQP)
    client_app.conf.update(celery_config(settings))
    return client_app


def cli(stack, task: str, **payload) -> dict:
    """`telequeue send TASK --payload JSON --wait 20`: the result of a task that succeeded."""
    result = stack.cli("send", task, "--payload", json.dumps(payload, ensure_ascii=False), "--wait", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    reply = json.loads(result.stdout)
    assert reply["state"] == "SUCCESS"
    return reply["result"]


def send(app, task: str, **payload):
    """(state, result) of a task sent by name from this process."""
    handle = app.send_task(task, kwargs=payload)
    value = handle.get(timeout=20, propagate=False)
    return handle.state, value


def ok(app, task: str, **payload):
    state, value = send(app, task, **payload)
    assert state == "SUCCESS", value
    return value


def rows(stack, **filters) -> list[dict]:
    return stack.sandbox.control.rows(vendor="pozvonim", **filters)


def test_server_time(stack):
    now = cli(stack, "pozvonim.server_time.now")
    assert datetime.strptime(now["time"], "%Y-%m-%d %H:%M:%S") and now["timezone"] == "Europe/Moscow"


def test_sites_tasks(stack, app):
    site = cli(stack, "pozvonim.sites.create", **SITE)
    assert (site["url"], site["managers"][0]["name"]) == ("https://пример.рф", "Олена")
    assert ok(app, "pozvonim.sites.get", site_id=site["id"])["widget_id"] == site["widget_id"]
    updated = ok(app, "pozvonim.sites.update", site_id=site["id"], **{**SITE, "site": {"url": "https://b.example"}})
    assert updated["url"] == "https://b.example"
    assert [s["id"] for s in ok(app, "pozvonim.sites.list", ids=[site["id"]])] == [site["id"]]
    assert ok(app, "pozvonim.sites.delete", site_id=site["id"]) == {"id": site["id"], "deleted": True}
    # A permanent refusal fails the task with the vendor's words, without retries
    state, error = send(app, "pozvonim.sites.get", site_id=site["id"])
    assert state == "FAILURE" and "GEN-NOT-FOUND" in str(error)
    assert [r["kind"] for r in rows(stack, site=site["id"])] == ["site.create", "site.update", "site.delete"]


def test_calls_tasks(stack, app):
    site = ok(app, "pozvonim.sites.create", **SITE)
    when = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    delayed = cli(stack, "pozvonim.calls.delayed", site_id=site["id"], phone="79990002233",
                  delayed=when.isoformat(), source_call="https://пример.рф/ціни")
    now = ok(app, "pozvonim.calls.now", site_id=site["id"], phone="+79990004455", region=2)
    assert (delayed["status_id"], now["status_id"], now["region"]) == (2, 1, 2)
    assert [c["id"] for c in ok(app, "pozvonim.calls.list", status_ids=[2], sites_ids=[site["id"]])] == [delayed["id"]]
    assert ok(app, "pozvonim.calls.get", call_id=now["id"])["phone"] == "+79990004455"
    calls = [r for r in rows(stack, site=site["id"]) if r["kind"].startswith("call.")]
    assert [(r["kind"], r["phone"], r["delayed"]) for r in calls] == [
        ("call.delayed", "79990002233", when.isoformat()), ("call.now", "+79990004455", None)]
    # A naive time is refused before anything is sent: the vendor would guess its zone
    state, error = send(app, "pozvonim.calls.delayed", site_id=site["id"], phone="79990002233",
                        delayed="2031-01-01T10:00:00")
    assert state == "FAILURE" and "invalid payload" in str(error)


def test_widgets_tasks(stack, app):
    site = ok(app, "pozvonim.sites.create", **SITE)
    widgets = cli(stack, "pozvonim.widgets.list", sites_ids=[site["id"]])
    assert [w["id"] for w in widgets] == [site["widget_id"]]
    settings = ok(app, "pozvonim.widgets.get", widget_id=site["widget_id"])["settings"]
    assert settings["schelude"]["monday"] == {"from": 9, "to": 18, "enable": True}


def test_profile_tasks(stack, app):
    updated = cli(stack, "pozvonim.profile.update", timezone="Europe/Kyiv", api_enable=True)
    assert (updated["timezone"], updated["api_enable"]) == ("Europe/Kyiv", True)
    assert ok(app, "pozvonim.profile.get")["timezone"] == "Europe/Kyiv"
    # The key is the worker's business: a payload carrying one is refused outright
    state, error = send(app, "pozvonim.profile.update", timezone="Europe/Kyiv", api_enable=True, api_key="k" * 8)
    assert state == "FAILURE" and "invalid payload" in str(error)
    ok(app, "pozvonim.profile.update", timezone="Europe/Moscow", api_enable=True)


def test_contributors_tasks(stack, app):
    both = cli(stack, "pozvonim.contributors.create_with_site", email="bob@example.com", password="secret-2", **SITE)
    alice = ok(app, "pozvonim.contributors.create", email="alice@example.com", password="secret-1")
    assert "password" not in alice and both["site"]["contributor_id"] == both["contributor"]["id"]
    assert {"alice@example.com", "bob@example.com"} <= {c["email"] for c in ok(app, "pozvonim.contributors.list")}
    owner = {"contributor_id": alice["id"]}
    site = ok(app, "pozvonim.contributor_sites.create", **owner, **SITE)
    assert [s["id"] for s in ok(app, "pozvonim.contributor_sites.list", **owner)] == [site["id"]]
    assert ok(app, "pozvonim.contributor_sites.get", **owner, site_id=site["id"])["contributor_id"] == alice["id"]
    assert ok(app, "pozvonim.contributor_sites.update", **owner, site_id=site["id"], **SITE)["id"] == site["id"]
    call = ok(app, "pozvonim.calls.now", site_id=site["id"], phone="79990006677")
    assert [c["id"] for c in ok(app, "pozvonim.contributor_calls.list", **owner)] == [call["id"]]
    assert ok(app, "pozvonim.contributor_calls.get", **owner, call_id=call["id"])["phone"] == "79990006677"
    assert ok(app, "pozvonim.contributors.get", **owner)["sites"][0]["id"] == site["id"]
    assert ok(app, "pozvonim.contributor_sites.delete", **owner, site_id=site["id"])["deleted"] is True
    assert [r["kind"] for r in rows(stack, contributor=alice["id"])] == [
        "contributor.create", "site.create", "site.update", "site.delete"]


def test_payments_tasks(stack, app):
    carol = ok(app, "pozvonim.contributors.create", email="carol@example.com", password="secret-3")
    paid = cli(stack, "pozvonim.payments.transfer", contributor_id=carol["id"], amount="250.25")
    alias = ok(app, "pozvonim.contributor_payments.transfer", contributor_id=carol["id"], type=2, amount=50)
    assert (paid["amount"], paid["type"], alias["type"]) == (250.25, 1, 2)
    assert ok(app, "pozvonim.contributors.get", contributor_id=carol["id"])["balance"] == 300.25
    assert [(r["amount"], r["via"]) for r in rows(stack, kind="payment", contributor=carol["id"])] == [
        ("250.25", "payments/contributors/:id"), ("50", "contributors/:id/payments")]


def test_every_worker_thread_shared_one_token_and_no_key_leaked(stack, app):
    # Given several tasks at once on a worker with 8 threads (each with its own client)
    handles = [app.send_task("pozvonim.profile.get", kwargs={}) for _ in range(8)]
    assert all(h.get(timeout=20)["id"] == 1001 for h in handles)
    # Then the whole module used one token, cached in Redis per account (the default scope)
    assert len(rows(stack, kind="token")) == 1
    assert stack.redis.exists(f"{stack.prefix}pozvonim:token:default")
    secret = vendor_secret("pozvonim")
    assert secret not in stack.log("w0").read_text()
    assert not any(secret.encode() in (stack.redis.get(key) or b"")
                   for key in stack.redis.scan_iter(match=f"{stack.prefix}*") if stack.redis.type(key) == b"string")


def test_a_minimal_site_update_changes_only_the_fields_given(stack, app):
    # Given a site with settings of its own besides the url and managers
    site = ok(app, "pozvonim.sites.create", site={"url": "https://keep.example", "report_email": "r@example.com"},
              managers=[{"phone": "+79990001122"}, {"phone": "+79990003344"}],
              widget={"button_position": 3, "schelude": {"monday": {"from": 10, "to": 17, "enable": True}},
                      "algoritms": {"onexit": {"time": 15, "enable": True}}},
              blacklists={"phone": ["+79990000000"]})
    # When an update names only the url and one manager
    ok(app, "pozvonim.sites.update", site_id=site["id"], site={"url": "https://moved.example"},
       managers=[{"phone": "+79990005566"}])
    # Then those changed, and every setting the update did not name is as it was
    after = ok(app, "pozvonim.sites.get", site_id=site["id"])
    assert (after["url"], [m["phone"] for m in after["managers"]]) == ("https://moved.example", ["+79990005566"])
    assert after["site"]["report_email"] == "r@example.com"
    assert {key: after[key] for key in ("widget", "blacklists")} == {key: site[key] for key in ("widget", "blacklists")}
    assert after["widget"]["algoritms"]["onexit"] == {"time": 15, "enable": True}
    # And an update that names nothing is refused before anything is sent
    state, error = send(app, "pozvonim.sites.update", site_id=site["id"])
    assert state == "FAILURE" and "nothing to change" in str(error)
