"""The Ringostat minicrm client over real HTTP to the sandbox, and the doc's models."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from sandbox import start_sandbox
from vendors import errors
from vendors.http import new_session
from vendors.ringostat import Contact, MiniCrmClient, Organization, RingostatApi, RingostatCredentials

# The doc's example contact, with the project filled in.
DOC_CONTACT = {
    "projectId": 123, "fullName": "Client name", "origin": "Crm name", "externalId": None, "leadId": "7895643",
    "responsible": "manager1", "staffId": None, "contactLink": "https://crmname.com/contact/6835653",
    "leadLink": "https://crmname.com/lead/7895643", "dealLink": "https://crmname.com/deal/1835367",
    "googleClientId": None,
    "organizations": [{"projectId": 123, "name": "Organization name", "externalId": "124532", "origin": "Crm's name"}],
    "contactDirections": [{"name": "Client name", "type": "phone", "value": "+380111111111"},
                          {"name": "Client name", "type": "email", "value": "client@example.com"}],
}


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox("--project", "123=right-key") as s:
        yield s


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.control.reset()


def client(sandbox, key="right-key", project="123"):
    creds = RingostatCredentials(auth_key=SecretStr(key), project_id=project)
    return MiniCrmClient(creds, base_url=f"{sandbox.url}/ringostat", session=new_session(), timeout_s=(1.0, 2.0))


def rows(sandbox, **filters):
    return [{k: v for k, v in row.items() if k not in ("t", "request")}
            for row in sandbox.control.rows(vendor="ringostat-minicrm", **filters)]


def contact(**changes):
    return Contact.model_validate({**DOC_CONTACT, **changes})


def test_syncs_the_doc_example_with_every_nullable_field_present(sandbox):
    reply = client(sandbox).sync_contacts([contact()])
    assert reply.synced == 1 and reply.result is True
    # The vendor got the doc's body exactly: null fields sent as null, not left out
    assert rows(sandbox) == [{"project": "123", "kind": "contact", **DOC_CONTACT}]


def test_one_request_carries_the_whole_batch(sandbox):
    batch = [contact(externalId=str(i), leadId=None) for i in range(5)]
    client(sandbox).sync_contacts(batch)
    found = sandbox.control.rows(vendor="ringostat-minicrm")
    assert [row["externalId"] for row in found] == ["0", "1", "2", "3", "4"]
    assert len({row["request"] for row in found}) == 1


def test_syncs_organizations(sandbox):
    orgs = [Organization(projectId=123, name=f"organization{i}", externalId=str(i), origin="Crm") for i in (1, 2, 3)]
    assert client(sandbox).sync_organizations(orgs).synced == 3
    assert [(r["kind"], r["name"], r["externalId"]) for r in rows(sandbox)] == [
        ("organization", "organization1", "1"), ("organization", "organization2", "2"),
        ("organization", "organization3", "3")]


@pytest.mark.parametrize("change, complaint", [
    ({"externalId": None, "leadId": None}, "externalId or leadId must be set"),
    ({"contactDirections": []}, "at least 1 item"),
    ({"contactDirections": [{"name": "w", "type": "email", "value": "not-an-email"}]}, "not an email address"),
    ({"contactDirections": [{"name": "w", "type": "phone", "value": "+380 1, +380 2"}]}, "not one phone number"),
    ({"organizations": [{"projectId": 123, "name": "Org", "origin": "Crm"}]}, "externalId"),
    ({"fullName": ""}, "fullName"),
    ({"unknownField": 1}, "Extra inputs"),
])
def test_the_model_refuses_what_the_doc_forbids(change, complaint):
    with pytest.raises(ValueError, match=complaint):
        contact(**change)


def test_required_nullable_fields_must_be_present():
    body = {k: v for k, v in DOC_CONTACT.items() if k != "staffId"}
    with pytest.raises(ValueError, match="staffId"):
        Contact.model_validate(body)
    assert Contact.model_validate({**body, "staffId": None}).staff_id is None


def test_a_project_other_than_the_headers_is_refused_as_permanent(sandbox):
    with pytest.raises(errors.ValidationError) as info:
        client(sandbox).sync_contacts([contact(projectId=999)])
    assert info.value.status == 400 and "projectId" in info.value.body["error"]
    assert rows(sandbox) == []


def test_wrong_key_is_an_auth_error(sandbox):
    with pytest.raises(errors.AuthError):
        client(sandbox, key="wrong").sync_contacts([contact()])


def test_the_worker_client_does_both_power_dialer_and_minicrm(sandbox):
    creds = RingostatCredentials(auth_key=SecretStr("right-key"), project_id="123")
    api = RingostatApi(creds, base_url=f"{sandbox.url}/ringostat", session=new_session())
    assert api.add_campaign_row(456, "380930000000").result is True
    assert api.minicrm.sync_contacts([contact()]).synced == 1
    assert len(sandbox.control.rows()) == 1 and len(rows(sandbox)) == 1
