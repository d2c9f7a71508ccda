"""The sandbox over real HTTP: one subprocess for the module, reset between tests."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox import DEFAULT_AUTH_KEY, DEFAULT_PROJECT_ID, SandboxControl, SandboxStartError, start_sandbox

ROWS_PATH = "/ringostat/power-dialer/campaigns/campaign-rows"
AUTH = {"Auth-key": DEFAULT_AUTH_KEY, "x-project-id": DEFAULT_PROJECT_ID}
MAX_ONE = "Maximum 1 number per request"
DEFAULT_FAULTS = {"latency_ms": 0, "error_rate": 0, "hang_rate": 0, "hang_s": 30, "seed": None}


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox() as process:
        yield process


@pytest.fixture
def control(sandbox) -> SandboxControl:
    sandbox.control.reset()
    yield sandbox.control
    # Config survives reset by design, so undo whatever the test configured.
    config = sandbox.control.config()
    sandbox.control.configure(
        **DEFAULT_FAULTS,
        rate_limits={account: None for account in config["rate_limits"]},
        projects={p: None for p in config["projects"] if p != DEFAULT_PROJECT_ID},
    )
    sandbox.control.reset()


@pytest.fixture
def post(sandbox):
    session = requests.Session()

    def send(body=None, headers=AUTH, data=None, timeout=5.0) -> requests.Response:
        return session.post(sandbox.url + ROWS_PATH, json=body, data=data, headers=headers, timeout=timeout)

    yield send
    session.close()


def row(phone: str = "380930000000", campaign: int = 456, fio: str = "Іван Петренко") -> dict:
    return {"campaignId": campaign, "fio": fio, "phone_number": phone}


def test_health(sandbox):
    assert requests.get(sandbox.url + "/_sandbox/health", timeout=2).json() == {"ok": True}


def test_valid_row_is_accepted_and_recorded(control, post):
    before = time.time()
    response = post(row())
    assert response.status_code == 200
    assert response.json() == {"result": True}
    [recorded] = control.rows()
    assert recorded["project"] == DEFAULT_PROJECT_ID
    assert (recorded["campaign_id"], recorded["phone_number"], recorded["fio"]) == (456, "380930000000", "Іван Петренко")
    assert before <= recorded["t"] <= time.time()
    assert control.stats()["status_counts"] == {"200": 1}


def test_a_row_records_its_arrival_before_the_latency(control, post):
    control.configure(latency_ms=200)
    before = time.time()
    assert post(row()).status_code == 200
    [recorded] = control.rows()
    assert before <= recorded["arrived_t"] < before + 0.15
    assert recorded["t"] - recorded["arrived_t"] >= 0.2


@pytest.mark.parametrize(
    "headers, error",
    [
        ({"x-project-id": DEFAULT_PROJECT_ID}, "Missing Auth-key header"),
        ({"Auth-key": DEFAULT_AUTH_KEY}, "Missing x-project-id header"),
        ({"Auth-key": "wrong", "x-project-id": DEFAULT_PROJECT_ID}, "Invalid Auth-key"),
        ({"Auth-key": DEFAULT_AUTH_KEY, "x-project-id": "999"}, "Unknown project"),
    ],
)
def test_auth_failures_are_401_and_not_recorded(control, post, headers, error):
    response = post(row(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"result": False, "error": error}
    assert control.rows() == []
    assert control.stats()["status_counts"] == {"401": 1}


def test_second_project_uses_its_own_key(control, post):
    control.configure(projects={"777": "key-777"})
    assert post(row(), headers={"Auth-key": DEFAULT_AUTH_KEY, "x-project-id": "777"}).status_code == 401
    assert post(row(), headers={"Auth-key": "key-777", "x-project-id": "777"}).json() == {"result": True}
    assert [r["project"] for r in control.rows()] == ["777"]


@pytest.mark.parametrize(
    "phone",
    [
        ["380930000000", "380930000001"],
        "380930000000,380930000001",
        "380930000000; 380930000001",
        "380930000000 380930000001",
        "380930000000380930000001",
    ],
)
def test_more_than_one_number_is_rejected_like_the_doc(control, post, phone):
    response = post(row(phone=phone))
    assert response.status_code == 400
    assert response.json() == {"result": False, "error": MAX_ONE}
    assert control.rows() == []


@pytest.mark.parametrize(
    "body, data, field",
    [
        (None, b"{not json", "JSON"),
        ([row()], None, "JSON object"),
        ({"fio": "x", "phone_number": "380930000000"}, None, "campaignId"),
        (row(campaign=0), None, "campaignId"),
        ({**row(), "campaignId": "456"}, None, "campaignId"),
        ({**row(), "campaignId": True}, None, "campaignId"),
        (row(phone="+380930000000"), None, "phone_number"),
        (row(phone="380 93 000 0000"), None, "phone_number"),
        (row(phone="12345"), None, "phone_number"),
        ({"campaignId": 456, "fio": "x"}, None, "phone_number"),
        ({"campaignId": 456, "phone_number": "380930000000"}, None, "fio"),
        (row(fio="x" * 256), None, "fio"),
    ],
)
def test_invalid_input_is_400_with_a_clear_error(control, post, body, data, field):
    response = post(body, data=data)
    assert response.status_code == 400
    payload = response.json()
    assert payload["result"] is False and field in payload["error"]
    assert control.rows() == []


def test_boundary_values_are_accepted(control, post):
    for body in (row(fio=""), row(phone="3809300000", fio="x" * 255), row(phone="380930000000123")):
        assert post(body).json() == {"result": True}
    assert len(control.rows()) == 3


def test_rate_limit_answers_429_with_retry_after_and_records_nothing(control, post):
    control.configure(projects={"777": "key-777"}, rate_limits={DEFAULT_PROJECT_ID: {"rate_per_s": 1, "burst": 3}})
    started = time.monotonic()
    responses = [post(row(phone=f"38093000000{i}")) for i in range(8)]
    assert time.monotonic() - started < 1.0, "too slow to test a 1/s limit"
    assert [r.status_code for r in responses] == [200] * 3 + [429] * 5
    for refused in responses[3:]:
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json() == {"result": False, "error": "Too many requests"}
    assert [r["phone_number"] for r in control.rows()] == [f"38093000000{i}" for i in range(3)]
    # The limit is per project: an unlimited project is not throttled meanwhile.
    other = {"Auth-key": "key-777", "x-project-id": "777"}
    assert all(post(row(), headers=other).status_code == 200 for _ in range(5))


def test_error_rate_answers_5xx_and_records_nothing(control, post):
    control.configure(error_rate=1.0)
    responses = [post(row(phone=f"38093000000{i}")) for i in range(10)]
    assert {r.status_code for r in responses} <= {500, 502, 503}
    assert all(r.json()["result"] is False for r in responses)
    assert control.rows() == []
    assert control.stats()["accepted"] == 0


def test_seeded_faults_repeat_after_reset(control, post):
    control.configure(error_rate=0.5, seed=7)

    def run() -> list[int]:
        control.reset()  # reseeds
        return [post(row(phone=f"3809300000{i:02d}")).status_code for i in range(30)]

    first = run()
    assert first == run()
    assert 200 in first and set(first) - {200}


def test_hang_records_the_row_and_the_client_times_out(control, post):
    control.configure(hang_rate=1.0, hang_s=2.0)
    with pytest.raises(requests.Timeout):
        post(row(), timeout=0.3)
    assert [r["phone_number"] for r in control.rows()] == ["380930000000"]
    assert control.stats()["hangs"] == 1


def test_latency_delays_every_answer(control, post):
    control.configure(latency_ms=200)
    started = time.monotonic()
    assert post(row()).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_duplicates_are_counted_as_extra_copies(control, post):
    for _ in range(3):
        post(row())
    post(row(phone="380930000001"))
    post(row(campaign=789))  # same number, another campaign: not a duplicate
    stats = control.stats()
    assert (stats["accepted"], stats["duplicates"]) == (5, 2)
    assert len(control.rows(campaign=456)) == 4


def test_rows_filters(control, post):
    control.configure(projects={"777": "key-777"})
    post(row(campaign=1))
    post(row(campaign=2))
    post(row(campaign=1), headers={"Auth-key": "key-777", "x-project-id": "777"})
    assert len(control.rows()) == 3
    assert len(control.rows(campaign=1)) == 2
    assert [r["campaign_id"] for r in control.rows(project="123")] == [1, 2]
    assert len(control.rows(project=777, campaign=1)) == 1


def test_reset_clears_rows_stats_and_limiter_but_keeps_config(control, post):
    control.configure(rate_limits={DEFAULT_PROJECT_ID: {"rate_per_s": 0.1, "burst": 1}})
    assert post(row()).status_code == 200
    assert post(row()).status_code == 429
    control.reset()
    assert control.rows() == []
    assert control.stats() == {"requests": 0, "accepted": 0, "status_counts": {}, "hangs": 0, "duplicates": 0,
                               "in_flight_max": 0}
    assert post(row()).status_code == 200  # limiter forgot the earlier request
    assert post(row()).status_code == 429  # but the limit itself is still configured


def test_config_masks_keys_and_rejects_bad_updates(sandbox, control):
    shown = control.configure(projects={"555": "very-secret-key"}, latency_ms=1)
    assert shown["projects"] == {DEFAULT_PROJECT_ID: "***", "555": "***"}
    assert shown["latency_ms"] == 1
    assert "very-secret-key" not in requests.get(sandbox.url + "/_sandbox/config", timeout=2).text
    for bad in ({"error_rate": 1.5}, {"nope": 1}, {"rate_limits": {"123": {"rate_per_s": 0}}},
                {"apply_fault": "sometimes"}, {"apply_fault_count": -1}):
        response = requests.post(sandbox.url + "/_sandbox/config", json=bad, timeout=2)
        assert response.status_code == 400 and response.json()["ok"] is False
    assert control.config()["rate_limits"] == {}


def test_start_failure_reports_stderr():
    with pytest.raises(SandboxStartError, match="error_rate"):
        start_sandbox("--error-rate", "2")


def test_stop_exits_cleanly_on_sigterm():
    process = start_sandbox("--hang-rate", "1", "--hang-s", "60")
    with pytest.raises(requests.Timeout):  # a request still hanging must not block shutdown
        requests.post(process.url + ROWS_PATH, json=row(), headers=AUTH, timeout=0.2)
    started = time.monotonic()
    process.stop()
    assert process.proc.returncode == 0
    assert time.monotonic() - started < 3.0
