"""A known contributor password, known vendor keys and a known Redis password appear nowhere
but the vendor request: not in broker messages, the deferred set, the result backend, task
events, Flower's API, pages or flower.db, CLI output or any log."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests
from celery import Celery

from tests.support.flowerjobs import flower_answers, task_state
from tests.support.stack import SECRET_KEY, Stack
from workers.celeryconf import celery_config
from workers.dev import devstack
from workers.redis.url import masked
from workers.runtime.secret_store import SecretRefAMQP
from workers.settings import Settings

PASSWORD = f"pw-{uuid.uuid4().hex}"
REDIS_PASSWORD = f"redis-{uuid.uuid4().hex}"
AUTH = ("ops", f"flower-{uuid.uuid4().hex[:8]}")
SITE = {"site": {"url": "https://secret.example"}, "managers": [{"phone": "+79990001122"}]}


def test_repr_and_masking_of_both_redis_url_forms():
    settings = Settings(redis_url=f"redis://127.0.0.1:1/0?password={REDIS_PASSWORD}",
                        broker_url=f"redis://user:{REDIS_PASSWORD}@127.0.0.1:1/1")
    assert REDIS_PASSWORD not in repr(settings) + str(settings)
    assert settings.redis_url == f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0"  # the form every tool masks
    assert masked(f"redis://h/0?password={REDIS_PASSWORD}&db=1") == "redis://h/0?password=***&db=1"


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    """A redis-server of its own that wants a password, addressed in the `?password=` form."""
    port = devstack.free_port()
    url = f"redis://127.0.0.1:{port}/0?password={REDIS_PASSWORD}"
    proc = devstack.run_redis_server(["--port", str(port), "--bind", "127.0.0.1", "--requirepass", REDIS_PASSWORD,
                                      "--save", "", "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                                     url)
    yield url
    devstack.stop(proc)


def events_of(app: Celery, into: list, ready: threading.Event, holder: dict) -> None:
    with app.connection() as connection:
        receiver = holder["receiver"] = app.events.Receiver(connection, handlers={"*": into.append})
        ready.set()
        receiver.capture(limit=None, timeout=None, wakeup=True)


def test_no_secret_anywhere(private_redis, tmp_path):
    stack = Stack(private_redis, tmp_path)
    secrets = [PASSWORD, REDIS_PASSWORD, SECRET_KEY]
    flower = None
    try:
        stack.start_worker(queues="pozvonim,ringostat,bulk")
        port = devstack.free_port()
        url = f"http://127.0.0.1:{port}"
        flower = devstack.start_flower(stack.env, port=port, basic_auth=":".join(AUTH),
                                       logfile=str(stack.log("flower")), db_path=str(tmp_path / "flower.db"))
        devstack.wait_until(lambda: flower_answers(url), 30, "flower to answer")
        settings = Settings(redis_url=private_redis, key_prefix=stack.prefix,
                            broker_key_prefix=stack.env["TELEQUEUE_BROKER_KEY_PREFIX"])
        app = Celery("secrets-test", set_as_current=False, amqp=SecretRefAMQP)
        app.conf.update(celery_config(settings))
        events: list[dict] = []
        ready, holder = threading.Event(), {}
        listener = threading.Thread(target=events_of, args=(app, events, ready, holder), daemon=True)
        listener.start()
        ready.wait(10)
        # Given a vendor that refuses the first create with 429 (so it waits in the deferred set)
        stack.sandbox.control.configure(rate_limits={"1001": {"rate_per_s": 1, "burst": 1}})
        # When contributors are created with a known password: from this app, the CLI and Flower's API
        created = app.send_task("pozvonim.contributors.create", kwargs={"email": "a@example.com", "password": PASSWORD})
        cli = stack.cli("send", "pozvonim.contributors.create_with_site", "--wait", "30", "--payload",
                        f'{{"email": "b@example.com", "password": "{PASSWORD}", "site": {{"url": "https://b.example"}},'
                        f' "managers": [{{"phone": "+79990001122"}}]}}')
        over_http = requests.post(f"{url}/api/task/async-apply/pozvonim.contributors.create", auth=AUTH, timeout=10,
                                  json={"kwargs": {"email": "c@example.com", "password": PASSWORD}})
        assert created.get(timeout=30)["email"] == "a@example.com"
        assert cli.returncode == 0, cli.stdout + cli.stderr
        flower_id = over_http.json()["task-id"]
        devstack.wait_until(lambda: task_state(url, flower_id, AUTH) == "SUCCESS", 30, "the task sent through Flower")
        # Then the vendor got the password, each time
        got = [r for r in stack.sandbox.control.rows(vendor="pozvonim") if r["kind"].startswith("contributor.")]
        assert len(got) == 3
        assert stack.sandbox.control.stats()["status_counts"].get("429", 0) >= 1  # the deferred path was taken
        # And nothing else holds it: Flower's API and pages, events, Redis (broker, results, deferred), outputs
        pages = [requests.get(f"{url}{path}", auth=AUTH, timeout=10).text
                 for path in ("/api/tasks", f"/api/task/info/{created.id}", f"/task/{created.id}", "/tasks",
                              f"/api/task/result/{created.id}", "/broker", "/workers", "/api/workers")]
        assert any(created.id in page for page in pages)
        holder["receiver"].should_stop = True
        listener.join(5)
        # (the references are what travelled: the checks below look where the values would have been)
        assert "tq-secret:" in repr(events) and "tq-secret:" in pages[0]
        redis_dump = b"".join(stack.redis.dump(key) or b"" for key in stack.redis.scan_iter(count=1000))
        assert not stack.redis.keys(f"{stack.prefix}secret:*")  # each reference deleted once used
        devstack.stop(flower)  # SIGTERM: Flower writes flower.db
        flower = None
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("flower.db*"))
        assert stored, "flower.db was written"
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
        for secret in secrets:
            assert secret not in "".join(pages), f"{secret[:6]}… in Flower"
            assert secret not in repr(events), f"{secret[:6]}… in task events"
            assert secret.encode() not in redis_dump, f"{secret[:6]}… in Redis"
            assert secret.encode() not in stored, f"{secret[:6]}… in flower.db"
            assert secret not in logs, f"{secret[:6]}… in a log"
            assert secret not in cli.stdout + cli.stderr, f"{secret[:6]}… in CLI output"
    finally:
        devstack.stop(flower)
        stack.stop()
