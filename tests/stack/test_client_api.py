"""Other apps: enqueue from a separate Python process that imports only workers.client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from tests.support.stack import PROJECT_ID, Stack
from workers.dev import devstack

APP = textwrap.dedent('''
    import json, sys
    from workers.client import Telequeue
    from tasks.ringostat import CampaignRowPayload
    import pydantic

    out = {"heavy": [m for m in ("workers.app", "workers.runtime.worker_runtime", "vendors.http") if m in sys.modules]}
    tq = Telequeue()
    out["typed"] = tq.send(CampaignRowPayload(campaign_id=71, phone_number="380931110001", fio="A")).get(timeout=30)
    out["by_name"] = tq.enqueue("ringostat.campaign_rows.add", {"campaign_id": 71, "phone_number": "380931110002"}).get(timeout=30)
    try:
        tq.enqueue("ringostat.campaign_rows.add", {"campaign_id": 71, "phone_number": "+38 093"})
    except pydantic.ValidationError as exc:
        out["invalid"] = exc.errors()[0]["loc"]
    job = tq.load_campaign([{"phone": "093 111 00 03", "fio": "B"}, {"phone": "nope"}, {"phone": "0931110004"}],
                           campaign_id=72)
    status = job.wait(timeout=60)
    out["job"] = [status.delivered, status.rejected, status.state]
    out["report_rows"] = job.report(sys.argv[1])
    print(json.dumps(out))
''')


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("client"))
    s.start_worker()
    yield s
    s.stop()


def test_another_app_enqueues_operations_and_jobs(stack, tmp_path):
    result = subprocess.run([sys.executable, "-c", APP, str(tmp_path / "report.csv")], capture_output=True, text=True,
                            env={**os.environ, **stack.env}, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["heavy"] == []  # no worker machinery loaded in the app
    assert out["typed"] == {"result": True} and out["by_name"] == {"result": True}
    assert out["invalid"] == ["phone_number"]
    assert out["job"] == [2, 1, "done"]
    assert out["report_rows"] == 1 and "nope" in (tmp_path / "report.csv").read_text(encoding="utf-8-sig")
    assert {r["phone_number"] for r in stack.rows(71)} == {"380931110001", "380931110002"}
    assert {r["phone_number"] for r in stack.rows(72)} == {"380931110003", "380931110004"}


def test_invalid_payload_fails_at_once_in_the_worker_and_is_not_retried(stack):
    # Sent by name past any client-side check, as a non-Python app through Flower would
    result = stack.cli("send", "ringostat.campaign_rows.add", "--wait", "20", "--raw",
                       "--payload", '{"campaign_id": 73, "phone_number": "12", "api_key": "x"}')
    assert result.returncode == 1
    reply = json.loads(result.stdout)
    assert reply["state"] == "FAILURE"
    assert "invalid payload" in reply["result"] and "phone_number" in reply["result"]
    log = stack.log("w0").read_text()
    assert "Retry in" not in log


def test_a_single_operation_retries_through_redis_and_keeps_its_task_id(stack):
    # Given a vendor that answers 5xx for a while, and an operation safe to repeat (a sync by lead id;
    # one that is not safe to repeat is reconciled or ends as OutcomeUnknownError: tests/stack/test_single_ops.py)
    stack.sandbox.control.reset()
    stack.sandbox.control.configure(error_rate=1.0)
    contact = {"projectId": int(PROJECT_ID), "fullName": "Retried", "origin": "retry-test", "externalId": None,
               "leadId": "74", "responsible": "manager1", "staffId": None, "contactLink": None, "leadLink": None,
               "dealLink": None, "googleClientId": None, "organizations": None,
               "contactDirections": [{"name": "work", "type": "phone", "value": "+380931110074"}]}
    results = {}
    sender = threading.Thread(target=lambda: results.update(reply=stack.cli(
        "send", "ringostat.contacts.sync", "--wait", "40", "--payload", json.dumps({"contacts": [contact]}))))
    sender.start()
    devstack.wait_until(lambda: stack.sandbox.control.stats()["requests"] >= 1, 20, "the first attempt")
    # No message waits in a worker's memory: the retry sits in Redis' deferred set
    devstack.wait_until(lambda: stack.redis.zcard(f"{stack.prefix}deferred") == 1, 5, "the retry to be deferred")
    stack.sandbox.control.configure(error_rate=0.0)
    sender.join(60)
    reply = json.loads(results["reply"].stdout)
    # Then the caller's handle (same task id) sees the success of a later attempt
    assert reply["state"] == "SUCCESS" and reply["result"]["result"] is True
    assert len(stack.sandbox.control.rows(vendor="ringostat-minicrm", origin="retry-test")) == 1
