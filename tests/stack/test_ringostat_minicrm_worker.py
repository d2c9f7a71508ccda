"""Minicrm through a real worker: the sync tasks via `telequeue send`, and the contacts job via `telequeue load`."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest

from tests.support.stack import PROJECT_ID, Stack

CONTACT = {
    "projectId": int(PROJECT_ID), "fullName": "Client name", "origin": "Crm name", "externalId": None,
    "leadId": "7895643", "responsible": "manager1", "staffId": None, "contactLink": None, "leadLink": None,
    "dealLink": None, "googleClientId": None, "organizations": None,
    "contactDirections": [{"name": "work", "type": "phone", "value": "+380111111111"}],
}


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("minicrm"))
    s.start_worker(queues="ringostat,ringostat.badkey,bulk")
    yield s
    s.stop()


def synced(stack, origin: str, kind: str = "contact") -> list[dict]:
    return stack.sandbox.control.rows(vendor="ringostat-minicrm", kind=kind, origin=origin)


def send(stack, task: str, payload: dict):
    # --raw: these tests check what the worker does with a payload, including invalid ones
    return stack.cli("send", task, "--raw", "--payload", json.dumps(payload), "--wait", "20")


def job_status(stack, job_id: str) -> dict:
    result = stack.cli("job", "status", job_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def job_of(load) -> str:
    return load.stderr.split("job ", 1)[1].split()[0]


def test_contacts_sync_task_sends_the_contacts(stack):
    result = send(stack, "ringostat.contacts.sync", {"contacts": [CONTACT]})
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["result"] == {"synced": 1, "result": True}
    [row] = synced(stack, "Crm name")
    assert (row["leadId"], row["staffId"], row["project"]) == ("7895643", None, PROJECT_ID)


def test_organizations_sync_task_sends_the_organizations(stack):
    orgs = [{"projectId": int(PROJECT_ID), "name": f"organization{i}", "externalId": str(i), "origin": "OrgCrm"}
            for i in (1, 2, 3)]
    result = send(stack, "ringostat.organizations.sync", {"organizations": orgs})
    assert result.returncode == 0, result.stdout + result.stderr
    assert [row["name"] for row in synced(stack, "OrgCrm", kind="organization")] == [
        "organization1", "organization2", "organization3"]


def test_an_invalid_contact_fails_the_task_without_a_request(stack):
    result = send(stack, "ringostat.contacts.sync", {"contacts": [{**CONTACT, "origin": "Bad", "leadId": None}]})
    assert result.returncode == 1
    assert "externalId or leadId must be set" in result.stdout
    assert synced(stack, "Bad") == []


def contact_line(i: int, origin: str, **changes) -> str:
    contact = {k: v for k, v in CONTACT.items() if k != "projectId"}  # an export does not know the project
    contact.update(fullName=f"Контакт {i}", origin=origin, externalId=f"c{i}", leadId=None,
                   contactDirections=[{"type": "phone", "name": "work", "value": f"+38093{i:07d}"}])
    contact.update(changes)
    return json.dumps(contact, ensure_ascii=False)


def test_json_lines_load_syncs_each_valid_contact_once_in_batches(stack, tmp_path):
    # Given 230 valid contacts, then a broken line, a contact without ids, a bad email and a repeat
    lines = [contact_line(i, "JsonCrm") for i in range(230)]
    lines += ["{oops", contact_line(900, "JsonCrm", externalId=None),
              contact_line(901, "JsonCrm", contactDirections=[{"type": "email", "name": "w", "value": "x"}]),
              contact_line(5, "JsonCrm", fullName="Repeat")]
    (tmp_path / "export.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # When it is loaded in batches of 40
    load = stack.cli("load", "ringostat-contacts", "--batch-size", "40", str(tmp_path / "export.jsonl"))
    # Then every valid contact reached the vendor exactly once, 40 per request at most
    assert load.returncode == 0, load.stderr
    rows = synced(stack, "JsonCrm")
    assert Counter(row["externalId"] for row in rows) == Counter(f"c{i}" for i in range(230))
    per_request = Counter(row["request"] for row in rows)
    assert sorted(per_request.values()) == [30, 40, 40, 40, 40, 40]
    assert {row["projectId"] for row in rows} == {int(PROJECT_ID)}
    # And the counters add up
    status = job_status(stack, job_of(load))
    assert (status["total"], status["delivered"], status["rejected"], status["failed"]) == (234, 230, 4, 0)
    assert status["state"] == "done" and status["pending"] == 0
    # And the report names each reject by line, with pydantic's words
    report = list(csv.DictReader(io.StringIO(stack.cli("job", "report", job_of(load)).stdout)))
    assert [(r["line"], r["status"]) for r in report] == [("231", "rejected"), ("232", "rejected"),
                                                          ("233", "rejected"), ("234", "rejected")]
    assert "externalId or leadId must be set" in report[1]["reason"]
    assert "not an email address" in report[2]["reason"] and report[2]["external_id"] == "c901"
    assert report[3]["reason"] == "duplicate of line 6"


def test_csv_load_syncs_valid_rows_and_rejects_the_rest(stack, tmp_path):
    # Given a CSV export: 25 valid rows, one without any id and one with an organization lacking its id
    rows = ["full_name;origin;external_id;lead_id;responsible;phone;email;organization;organization_id"]
    rows += [f"Контакт {i};CsvCrm;;L{i};m1;+38093{i:07d};c{i}@example.com;Acme;a1" for i in range(25)]
    rows += ["No ids;CsvCrm;;;m1;+380930000999;;;", "Half org;CsvCrm;x1;;m1;+380930000998;;Acme;"]
    (tmp_path / "export.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # When it is loaded, detached, in batches of 10
    load = stack.cli("load", "ringostat-contacts", "--batch-size", "10", "--detach", str(tmp_path / "export.csv"))
    assert load.returncode == 0, load.stderr
    job_id = load.stdout.strip()
    assert stack.cli("job", "follow", job_id, "--timeout", "60").returncode == 0
    # Then the vendor got every valid row once, each with its directions and organization
    found = synced(stack, "CsvCrm")
    assert sorted(row["leadId"] for row in found) == sorted(f"L{i}" for i in range(25))
    assert {len(row["contactDirections"]) for row in found} == {2}
    assert {row["organizations"][0]["externalId"] for row in found} == {"a1"}
    status = job_status(stack, job_id)
    assert (status["total"], status["delivered"], status["rejected"]) == (27, 25, 2)
    report = list(csv.DictReader(io.StringIO(stack.cli("job", "report", job_id).stdout)))
    assert [(r["line"], r["full_name"]) for r in report] == [("27", "No ids"), ("28", "Half org")]
    assert "organizations.0.externalId" in report[1]["reason"]


def test_a_refused_batch_pauses_the_job_with_the_vendor_reason(stack, tmp_path):
    # Given an account whose key the vendor refuses
    (tmp_path / "export.jsonl").write_text("\n".join(contact_line(i, "RefusedCrm") for i in range(5)) + "\n")
    # When 5 contacts are loaded through it in batches of 2
    load = stack.cli("load", "ringostat-contacts", "--account", "badkey", "--batch-size", "2",
                     str(tmp_path / "export.jsonl"))
    # Then the job pauses at the first 401 with what the vendor said; no contact failed, none was synced
    assert load.returncode == 1 and "paused at the first auth error" in load.stderr
    status = job_status(stack, job_of(load))
    assert (status["state"], status["failed"], status["pending"]) == ("paused", 0, 5)
    assert "HTTP 401" in status["pause_reason"] and "Invalid Auth-key" in status["pause_reason"]
    assert synced(stack, "RefusedCrm") == []


def test_a_file_without_contacts_is_a_one_line_error(stack, tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    load = stack.cli("load", "ringostat-contacts", str(tmp_path / "empty.jsonl"))
    assert load.returncode == 1 and "no contacts in the file" in load.stderr
    assert "Traceback" not in load.stderr
