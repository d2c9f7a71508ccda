"""SalesScriptPrompter tasks through a real worker (`telequeue send`): each group of operations, and refusals."""

from __future__ import annotations

import json

import pytest

from tests.support.stack import Stack, vendor_secret


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("ssp"))
    s.start_worker(queues="salesscriptprompter,bulk")
    yield s
    s.stop()


def send(stack, task: str, **payload):
    """Run one task; (exit code, the printed {"id", "state", "result"})."""
    # --raw: these tests check what the worker does with a payload, including invalid ones
    result = stack.cli("send", f"salesscriptprompter.{task}", "--raw", "--payload", json.dumps(payload), "--wait", "20")
    assert vendor_secret("salesscriptprompter") not in result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout) if result.stdout.startswith("{") else result.stderr


def recorded(stack, op: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "t"}
            for row in stack.sandbox.control.rows(vendor="salesscriptprompter", op=op)]


def test_user_operations(stack):
    # The key check: the account's key is known to the vendor, and masked in the result
    code, check = send(stack, "user.check")
    assert code == 0 and check["result"] == {"key": "**********", "user_id": 123456}
    # The user list: roles shown, auth tokens masked
    code, users = send(stack, "user.list")
    assert code == 0 and {u["auth_token"] for u in users["result"]} == {"**********"}
    assert [u["role"] for u in users["result"]][:2] == ["user_head_manager", "user_designer"]
    # Authorization by user id: the redirect to the main page, not followed
    code, auth = send(stack, "user.auth", user_id=123457)
    assert code == 0 and auth["result"]["status"] == 302 and auth["result"]["session_started"] is True
    assert auth["result"]["location"] == f"{stack.sandbox.url}/salesscriptprompter/"
    assert recorded(stack, "user/auth") == [{"account": "default", "op": "user/auth", "user_id": 123457}]


def test_script_list(stack):
    code, scripts = send(stack, "script.list")
    assert code == 0
    assert [(s["id"], s["published"]) for s in scripts["result"]] == [(1617, False), (460, True), (198, True)]


def test_call_attach_record(stack):
    url = "http://records-server.ru/record_123.mp3"
    code, reply = send(stack, "call.attach_record", call_id=1234, url=url)
    assert code == 0 and reply["result"] == {"result": True}
    assert recorded(stack, "call/attach-record") == [
        {"account": "default", "op": "call/attach-record", "call_id": 1234, "url": url}]


def test_custom_field_operations_and_a_refusal(stack):
    # Given a field of choices created and renamed
    assert send(stack, "field.create", code="gender", name="Пол", type="in", type_data="М, Ж")[0] == 0
    assert send(stack, "field.update", code="gender", name="Gender")[0] == 0
    code, listed = send(stack, "field.list")
    assert code == 0 and [(f["code"], f["name"], f["type_data"]) for f in listed["result"]] == [
        ("gender", "Gender", "М, Ж")]
    # When the same code is created again, the vendor's `result: false` fails the task, with its errors
    code, refused = send(stack, "field.create", code="gender", name="Again", type="string")
    assert code == 1 and refused["state"] == "FAILURE"
    assert "a field with code gender exists" in refused["result"]
    # And a deleted field is gone
    assert send(stack, "field.delete", code="gender")[0] == 0
    assert send(stack, "field.list")[1]["result"] == []


def test_an_invalid_payload_fails_without_a_request(stack):
    before = stack.sandbox.control.stats()["requests"]
    code, failed = send(stack, "field.create", code="gender", name="Пол", type="in")
    assert code == 1 and "type_data" in failed["result"]
    assert stack.sandbox.control.stats()["requests"] == before


def test_the_key_never_reaches_redis_or_the_worker_log(stack):
    # Given tasks whose vendor replies echo the key (user/check) or carry tokens (user/list)
    assert send(stack, "user.check")[0] == 0 and send(stack, "user.list")[0] == 0
    secret = vendor_secret("salesscriptprompter")
    # Then no Redis key (broker messages, results, limiter) and no worker log line holds the key
    for key in stack.redis.scan_iter(count=1000):
        assert secret.encode() not in (stack.redis.dump(key) or b""), f"key found in Redis key {key!r}"
    log = stack.log("w0").read_text(errors="replace")
    assert "salesscriptprompter.user.check" in log and secret not in log
