"""Obzvonilka through real processes: tasks on a worker, and the contacts upsert job via the CLI."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
import requests
from pydantic import SecretStr

from sandbox.obzvonilka_data import DEFAULT_API_KEY
from tests.support import delivery
from tests.support.stack import Stack
from vendors.http import new_session
from vendors.obzvonilka import ContactFields, ObzvonilkaClient


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    # A short read timeout and small chunks, so the hang test's lost answers cost little time.
    s = Stack(redis_url, tmp_path_factory.mktemp("obzvonilka"), obzvonilka__read_timeout_s="1", chunk_size="3")
    s.start_worker(queues="obzvonilka,bulk")
    yield s
    s.stop()


def send(stack, task: str, **payload) -> dict:
    # --raw: these tests check what the worker does with a payload, including invalid ones
    result = stack.cli("send", task, "--raw", "--payload", json.dumps(payload), "--wait", "20")
    reply = json.loads(result.stdout)
    assert (result.returncode == 0) == (reply["state"] == "SUCCESS"), result.stderr
    return reply


def sandbox_client(stack) -> ObzvonilkaClient:
    """Straight to the sandbox with its own default key (same organization as the stack's key)."""
    return ObzvonilkaClient(SecretStr(DEFAULT_API_KEY), base_url=f"{stack.sandbox.url}/obzvonilka",
                            session=new_session())


def recorded(stack, **filters) -> list[dict]:
    return stack.sandbox.control.rows(vendor="obzvonilka", **filters)


def stored(stack, base: int) -> list[dict]:
    url = f"{stack.sandbox.url}/_sandbox/obzvonilka/contacts"
    return requests.get(url, params={"base": base}, timeout=5).json()["contacts"]


# --- one operation at a time, on a worker


def test_contact_bases_tasks(stack):
    listed = send(stack, "obzvonilka.contact_bases.list")
    one = send(stack, "obzvonilka.contact_bases.get", base_id=3)
    assert [base["id"] for base in listed["result"]] == [1, 2, 3]
    assert (one["result"]["name"], one["result"]["deleted"]) == ("Архив", True)


def test_contacts_tasks_create_find_update_get_list(stack):
    # Given a new contact created through the worker
    created = send(stack, "obzvonilka.contacts.create", base_id=1,
                   contact={"name": "abc", "phone1": "987654321", "external_code": "T-1"})["result"]
    # When it is found by external code, updated, read back and listed
    found = send(stack, "obzvonilka.contacts.find_by_external_code", base_id=1, external_code="T-1")["result"]
    updated = send(stack, "obzvonilka.contacts.update", base_id=1, contact_id=created["id"],
                   contact={"name": "abcd"})["result"]
    got = send(stack, "obzvonilka.contacts.get", base_id=1, contact_id=created["id"])["result"]
    listed = send(stack, "obzvonilka.contacts.list", base_id=1)["result"]
    # Then every answer is the same contact, and the sandbox recorded one create and one update
    assert found["id"] == updated["id"] == got["id"] == created["id"]
    assert (got["name"], got["phone1"]) == ("abcd", "987654321")
    assert created["id"] in [contact["id"] for contact in listed]
    assert [(r["action"], r["fields"]) for r in recorded(stack, external_code="T-1")] == [
        ("create", {"name": "abc", "phone1": "987654321", "external_code": "T-1"}), ("update", {"name": "abcd"})]


def test_vendor_refusal_and_bad_payload_fail_the_task(stack):
    refused = send(stack, "obzvonilka.contacts.create", base_id=1, contact={"name": "no phone"})
    invalid = send(stack, "obzvonilka.contacts.get", base_id=1)
    assert refused["state"] == "FAILURE" and "can't be blank" in refused["result"]
    assert invalid["state"] == "FAILURE" and "contact_id" in invalid["result"]


def test_users_tasks(stack):
    listed = send(stack, "obzvonilka.users.list")
    one = send(stack, "obzvonilka.users.get", user_id=1)
    assert len(listed["result"]) == 3 and one["result"]["admin"] is True


# --- the bulk upsert, through the CLI


def write_rows(path, rows: list[str]) -> None:
    path.write_text("\n".join(["external_code;Телефон;name;email", *rows]) + "\n", encoding="utf-8")


def job_id_of(result) -> str:
    return result.stderr.split("job ", 1)[1].split()[0]


def test_load_upserts_by_external_code_and_reports_rejects(stack, tmp_path):
    # Given a base where U-1, U-2 and U-3 already exist
    client = sandbox_client(stack)
    for i in (1, 2, 3):
        client.create_contact(2, ContactFields(external_code=f"U-{i}", name=f"Old {i}", phone1=f"38093100000{i}"))
    requests_before = stack.sandbox.control.stats()["requests"]
    # And a file updating U-1 and U-2, adding N-1..N-3, with three rows to reject
    write_rows(tmp_path / "c.csv", [
        "U-1;(093) 200-00-01;;u1@example.com",  # line 2: update; the empty name is not sent
        "N-1;+380932000011;New 1;",  # line 3: create
        ";0932000012;No code;",  # line 4: rejected
        "U-2;0932000002;Renamed 2;",  # line 5: update
        "N-2;12345;Bad phone;",  # line 6: rejected
        "N-1;0932000013;Again;",  # line 7: rejected, duplicate of line 3
        "N-3;0932000014;New 3;",  # line 8: create
        "N-2b;0932000015;New 2b;",  # line 9: create
    ])
    # When the operator loads it
    load = stack.cli("load", "obzvonilka-contacts", "--base", "2", str(tmp_path / "c.csv"))
    # Then it exits 0; existing codes were updated, new ones created
    assert load.returncode == 0, load.stderr
    assert {r["external_code"] for r in recorded(stack, base=2, action="update")} == {"U-1", "U-2"}
    assert {r["external_code"] for r in recorded(stack, base=2, action="create")} == {
        "U-1", "U-2", "U-3", "N-1", "N-3", "N-2b"}  # U-* from the setup above
    # And the base holds exactly one contact per external code, with the file's values
    assert Counter(c["external_code"] for c in stored(stack, 2)) == Counter(["U-1", "U-2", "U-3", "N-1", "N-3", "N-2b"])
    contacts = {c["external_code"]: c for c in stored(stack, 2)}
    assert (contacts["U-1"]["name"], contacts["U-1"]["phone1"], contacts["U-1"]["email"]) == (
        "Old 1", "380932000001", "u1@example.com")
    assert (contacts["U-2"]["name"], contacts["N-1"]["phone1"]) == ("Renamed 2", "380932000011")
    # And each row cost two requests: the find, then the write
    assert stack.sandbox.control.stats()["requests"] - requests_before == 2 * 5
    # And the counters add up
    status = delivery.status(stack, job_id_of(load))
    assert (status["total"], status["delivered"], status["rejected"], status["failed"]) == (8, 5, 3, 0)
    assert status["state"] == "done" and status["pending"] == 0
    # And the report lists the rejects with their lines, codes and reasons
    report = stack.cli("job", "report", status["id"])
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [(r["line"], r["external_code"], r["status"]) for r in rows] == [
        ("4", "", "rejected"), ("6", "N-2", "rejected"), ("7", "N-1", "rejected")]
    assert [r["reason"] for r in rows] == [
        "missing external_code", "no valid phone: invalid number for region UA", "duplicate of line 3"]


def test_lost_answers_never_make_a_second_contact(stack, tmp_path):
    # Given a vendor that applies a third of the requests but answers them too late
    write_rows(tmp_path / "c.csv", [f"H-{i};09330000{i:02d};Hang {i};" for i in range(12)])
    stack.sandbox.control.configure(hang_rate=0.3, hang_s=2, seed=7)
    try:
        load = stack.cli("load", "obzvonilka-contacts", "--base", "1", str(tmp_path / "c.csv"))
    finally:
        stack.sandbox.control.configure(hang_rate=0)
    # Then every row was delivered once retried, and a retry found what the lost create made
    assert load.returncode == 0, load.stderr
    assert delivery.status(stack, job_id_of(load))["delivered"] == 12
    codes = Counter(c["external_code"] for c in stored(stack, 1) if c["external_code"].startswith("H-"))
    assert codes == Counter({f"H-{i}": 1 for i in range(12)})
    # And each answer lost (the only hangs of this sandbox) was followed by an update, not a create
    hangs = stack.sandbox.control.stats()["hangs"]
    updates = [r for r in recorded(stack, base=1, action="update") if r["external_code"].startswith("H-")]
    assert hangs >= 1 and len(updates) == hangs


def test_a_file_without_an_external_code_column_is_refused_before_any_job(stack, tmp_path):
    (tmp_path / "c.csv").write_text("phone;name\n0930000001;A\n", encoding="utf-8")
    jobs_before = job_ids(stack)
    load = stack.cli("load", "obzvonilka-contacts", "--base", "1", str(tmp_path / "c.csv"))
    assert load.returncode == 1 and "no external_code column" in load.stderr, load.stderr
    assert job_ids(stack) == jobs_before


def job_ids(stack) -> list[str]:
    listed = stack.cli("job", "list")
    assert listed.returncode == 0, listed.stderr
    return [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
