"""Reading minicrm contacts from a CRM export (JSON lines, CSV): the doc's model decides, rejects keep their line."""

from __future__ import annotations

import json

import pytest

from workers.jobs.intake import CsvFormatError, TableRejectedRow
from workers.jobs.kinds.ringostat_contacts import ContactRecord, open_contacts


def doc_contact(i: int, **changes) -> dict:
    """A contact as a CRM export would write it: no projectId (the account's is used)."""
    return {"fullName": f"Client {i}", "origin": "Crm", "externalId": str(i), "leadId": None, "responsible": "m1",
            "staffId": None, "contactLink": None, "leadLink": None, "dealLink": None, "googleClientId": None,
            "contactDirections": [{"type": "phone", "name": "work", "value": f"+38093{i:07d}"}],
            "organizations": None, **changes}


def read(path, project_id=123):
    with open_contacts(path, project_id=project_id) as items:
        return list(items)


def test_json_lines_become_contacts_of_the_accounts_project(tmp_path):
    path = tmp_path / "c.jsonl"
    org = {"name": "Org", "externalId": "o1", "origin": "Crm"}
    path.write_text("\n".join(json.dumps(c) for c in (doc_contact(1), doc_contact(2, organizations=[org]))) + "\n")
    first, second = read(path)
    assert isinstance(first, ContactRecord) and (first.line, first.contact.project_id) == (1, 123)
    assert second.contact.organizations[0].project_id == 123


def test_bad_json_lines_are_rejected_with_their_line_and_the_pydantic_error(tmp_path):
    # Given an export with a valid contact, then broken lines of every kind
    lines = [
        json.dumps(doc_contact(1)),
        "",  # blank: skipped, still counted as a line
        "{not json",
        "[1, 2]",
        json.dumps(doc_contact(4, externalId=None)),
        json.dumps(doc_contact(5, contactDirections=[{"type": "email", "name": "w", "value": "nope"}])),
        json.dumps(doc_contact(6, projectId=999)),
        json.dumps(doc_contact(1, fullName="Again")),
    ]
    path = tmp_path / "c.ndjson"
    path.write_text("\n".join(lines) + "\n")
    # When it is read
    items = read(path)
    # Then each broken line is a reject at its own line, with why
    rejects = {item.line: item.reason for item in items if isinstance(item, TableRejectedRow)}
    assert [item.line for item in items if isinstance(item, ContactRecord)] == [1]
    assert sorted(rejects) == [3, 4, 5, 6, 7, 8]
    assert rejects[3].startswith("not valid JSON")
    assert "one JSON object" in rejects[4]
    assert "externalId or leadId must be set" in rejects[5]
    assert "contactDirections.0" in rejects[6] and "not an email address" in rejects[6]
    assert "projectId 999 is not the account's project 123" == rejects[7]
    assert rejects[8] == "duplicate of line 1"
    # And a reject keeps what the report shows of the contact
    assert next(i for i in items if i.line == 8).values["full_name"] == "Again"


def test_csv_columns_map_onto_the_doc_model(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "fullName;origin;external_id;lead_id;responsible;phone;email;organization;organization_id\n"
        "Іван;Crm;c1;;m1;+380930000001, +380930000002;ivan@example.com;Acme;a1\n"
        "Lead only;Crm;;L7;m1;+380930000003;;;\n"
        "No ids;Crm;;;m1;+380930000004;;;\n"
        "Org without id;Crm;c9;;m1;+380930000005;;Acme;\n",
        encoding="utf-8")
    ivan, lead, no_ids, no_org_id = read(path)
    assert [(d.type, d.value) for d in ivan.contact.contact_directions] == [
        ("phone", "+380930000001"), ("phone", "+380930000002"), ("email", "ivan@example.com")]
    assert (ivan.contact.organizations[0].external_id, ivan.contact.lead_id, ivan.contact.staff_id) == ("a1", None, None)
    assert (lead.contact.external_id, lead.contact.lead_id) == (None, "L7")
    assert (no_ids.line, no_ids.values["full_name"]) == (4, "No ids") and "externalId or leadId" in no_ids.reason
    assert no_org_id.line == 5 and "organizations.0.externalId" in no_org_id.reason


def test_unusable_files_fail_before_any_contact(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    (tmp_path / "no_origin.csv").write_text("full_name;responsible;external_id\nA;m;1\n")
    with pytest.raises(CsvFormatError, match="no contacts"):
        read(tmp_path / "empty.jsonl")
    with pytest.raises(CsvFormatError, match="no origin column"):
        read(tmp_path / "no_origin.csv")
    with pytest.raises(CsvFormatError, match="not found"):
        read(tmp_path / "missing.jsonl")
