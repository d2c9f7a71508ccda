"""Each job kind's two sides agree: what the producer (workers/jobs/kinds/) writes and what
the chunk task (tasks/) reads. A row goes through the kind's own checks, its wire form, the
chunk message and the task's decoding; a reject through the kind's checks; the report's
columns must be found on both, so a field renamed on one side fails here, not as an empty
report cell."""

from __future__ import annotations

import pytest

from tasks.obzvonilka import UpsertChunkPayload, upsert_row
from tasks.ringostat import CampaignChunkPayload, campaign_row
from tasks.ringostat_minicrm import ContactsChunkPayload, contact_row
from workers.jobs.intake import RawRecord, RejectedRow, TableRecord
from workers.jobs.kinds import obzvonilka_contacts, ringostat_campaign, ringostat_contacts
from workers.jobs.registry import KINDS, kind_of

CONTACT = {"fullName": "Ганна Коваль", "origin": "Crm", "externalId": "c-1", "leadId": "l-1", "responsible": "m1",
           "staffId": None, "contactLink": None, "leadLink": None, "dealLink": None, "googleClientId": None,
           "contactDirections": [{"type": "phone", "name": "work", "value": "+380930000001"}], "organizations": None}


def campaign_sample():
    records = [RawRecord(2, "093 000 00 01", "Ганна"), RawRecord(3, "12", "Олег")]
    return list(ringostat_campaign.validate_contacts(records, region="UA"))


def obzvonilka_sample():
    def record(line, code, phone):
        values = {"external_code": code, "phone": phone, "name": "Ганна", "email": "a@x.ua", "address_string": "",
                  "description": "", "www": ""}
        return TableRecord(line, values)
    return list(obzvonilka_contacts.validate_upserts([record(2, "A-1", "0930000001"), record(3, "", "0930000002")],
                                                      region="UA"))


def ringostat_contacts_sample():
    records = [(2, CONTACT), (3, {**CONTACT, "externalId": None, "leadId": None})]
    return list(ringostat_contacts.validate(records, project_id=123))


# What each chunk task does with its message: parse it with its payload model, decode its rows
def decode_campaign(message: dict):
    return [campaign_row(row) for row in CampaignChunkPayload.model_validate(message).rows]


def decode_obzvonilka(message: dict):
    return [upsert_row(row) for row in UpsertChunkPayload.model_validate(message).rows]


def decode_minicrm(message: dict):
    return [contact_row(*row) for row in ContactsChunkPayload.model_validate(message).rows]


#: kind -> (a valid row and a reject from its own checks, its params, the chunk's decoder, the message's keys)
SIDES = {
    "ringostat-campaign": (campaign_sample, {"campaign_id": 456}, decode_campaign,
                           {"job_id", "campaign_id", "account", "rows"}),
    "obzvonilka-contacts": (obzvonilka_sample, {"base_id": 7}, decode_obzvonilka,
                            {"job_id", "base_id", "account", "rows"}),
    "ringostat-contacts": (ringostat_contacts_sample, {"batch_size": 100}, decode_minicrm,
                           {"job_id", "account", "batch_size", "rows"}),
}


def test_every_registered_kind_is_checked_here():
    assert set(SIDES) == set(KINDS)


@pytest.mark.parametrize("name", SIDES)
def test_a_row_goes_from_the_kinds_checks_through_the_chunk_message_to_the_task_with_its_report_fields(name):
    kind = kind_of(name)
    sample, params, decode, message_keys = SIDES[name]
    valid, reject = sample()
    assert not isinstance(valid, RejectedRow) and isinstance(reject, RejectedRow)

    # When the producer encodes the row and builds its chunk message, and the task reads it back
    message = kind.build_chunk("job-1", {**params, "account": "default"}, [kind.to_wire(valid)])
    (row,) = decode(message)

    # Then the message has the keys it always had, and the task sees the row with every report field
    assert set(message) == message_keys and message["job_id"] == "job-1"
    assert row.line == valid.line == message["rows"][0][0]
    assert kind.report_fields and set(kind.report_fields) <= set(row.fields)
    # And so does the reject the kind's checks made
    assert set(kind.report_fields) <= set(reject.as_record())


@pytest.mark.parametrize("name", SIDES)
def test_a_chunk_message_with_a_param_the_task_does_not_know_fails_in_the_producer(name):
    kind = kind_of(name)
    _, params, _, _ = SIDES[name]
    with pytest.raises(ValueError, match="renamed"):
        kind.build_chunk("job-1", {**params, "account": "default", "renamed": 1}, [])


def test_a_chunk_message_without_its_target_fails_in_the_producer():
    with pytest.raises(ValueError, match="campaign_id"):
        kind_of("ringostat-campaign").build_chunk("job-1", {"account": "default"}, [])


def test_report_fields_come_from_the_tasks_row_codecs():
    assert kind_of("ringostat-campaign").report_fields == ("phone", "fio")
    assert kind_of("obzvonilka-contacts").report_fields == ("external_code", "phone", "name")
    assert kind_of("ringostat-contacts").report_fields == ("full_name", "external_id", "lead_id")


def test_flowers_uploads_are_the_registrys_kinds_in_their_order():
    from workers.flower.loads import LOADS

    assert list(LOADS) == ["ringostat-campaign", "obzvonilka-contacts", "ringostat-contacts"]
    assert all(LOADS[name] is kind.file_load for name, kind in KINDS.items())
