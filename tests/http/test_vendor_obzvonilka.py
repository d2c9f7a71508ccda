"""The Obzvonilka client over real HTTP to the sandbox: paths, form fields, auth, error tree."""

from __future__ import annotations

import pytest
import requests
from pydantic import SecretStr

from sandbox import start_sandbox
from sandbox.obzvonilka import configure
from vendors import errors
from vendors.http import new_session
from vendors.obzvonilka import ContactFields, ObzvonilkaClient
from workers.dev.devstack import free_port

KEY = "right-key"


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox() as s:
        configure(s.url, api_keys={KEY: "acme", "slow-key": "slow"})
        s.control.configure(rate_limits={"obzvonilka:slow": {"rate_per_s": 0.5, "burst": 1}})
        yield s


@pytest.fixture(autouse=True)
def clean(sandbox):
    requests.post(f"{sandbox.url}/_sandbox/obzvonilka/reset", timeout=5).raise_for_status()
    sandbox.control.reset()
    sandbox.control.configure(error_rate=0, hang_rate=0)


def client(sandbox, key=KEY, read_timeout_s=2.0, base_url=None) -> ObzvonilkaClient:
    return ObzvonilkaClient(SecretStr(key), base_url=base_url or f"{sandbox.url}/obzvonilka",
                            session=new_session(), timeout_s=(1.0, read_timeout_s))


def rows(sandbox, **filters):
    return sandbox.control.rows(vendor="obzvonilka", **filters)


def test_contact_bases_list_and_get_as_the_doc_describes(sandbox):
    bases = client(sandbox).list_contact_bases()
    assert [(b.id, b.deleted) for b in bases] == [(1, False), (2, False), (3, True)]
    base = client(sandbox).get_contact_base(2)
    assert base.name == "Повторный обзвон" and base.select_from_last is False
    assert {"auto_open_window_params", "parser_name", "use_predictive_call"} <= set(base.model_dump())


def test_unknown_base_is_a_404_validation_error(sandbox):
    with pytest.raises(errors.ValidationError) as info:
        client(sandbox).get_contact_base(99)
    assert info.value.status == 404 and info.value.body == {"error": "Contact base not found"}


def test_create_sends_contact_form_fields_and_returns_the_contact(sandbox):
    # When a contact is created with a name, an external code and a phone
    created = client(sandbox).create_contact(2, ContactFields(name="abc", phone1="987654321", external_code="E-1"))
    # Then the vendor got exactly those contact[...] fields, and the answer is the stored contact
    [row] = rows(sandbox, base=2)
    assert row["action"] == "create" and row["fields"] == {"name": "abc", "phone1": "987654321", "external_code": "E-1"}
    assert created.id == row["contact_id"] and created.phone1 == "987654321" and created.phone2 is None
    assert client(sandbox).get_contact(2, created.id) == created
    assert [c.id for c in client(sandbox).list_contacts(2)] == [created.id]


def test_update_patches_only_the_fields_sent(sandbox):
    created = client(sandbox).create_contact(2, ContactFields(name="abc", phone1="987654321", email="a@b.c"))
    updated = client(sandbox).update_contact(2, created.id, ContactFields(name="abcd", phone1="9876543210"))
    assert (updated.name, updated.phone1, updated.email) == ("abcd", "9876543210", "a@b.c")
    assert rows(sandbox, action="update")[0]["fields"] == {"name": "abcd", "phone1": "9876543210"}


@pytest.mark.parametrize("code", ["CRM-1", "a/b?c.json", "Код 7"])
def test_find_by_external_code_round_trips_any_code(sandbox, code):
    c = client(sandbox)
    if code != "CRM-1":  # CRM-1 is seeded in base 1
        c.create_contact(1, ContactFields(external_code=code, phone1="380930000009"))
    found = c.find_contact_by_external_code(1, code)
    assert found is not None and found.external_code == code


def test_find_by_unknown_external_code_is_none(sandbox):
    assert client(sandbox).find_contact_by_external_code(1, "nope") is None


def test_users_list_and_get(sandbox):
    users = client(sandbox).list_users()
    assert [(u.id, u.admin, u.account_enabled) for u in users] == [(1, True, True), (2, False, True), (3, False, False)]
    assert client(sandbox).get_user(2).email == "operator@example.com"


def test_vendor_validation_is_a_permanent_error_with_its_field_errors(sandbox):
    with pytest.raises(errors.ValidationError) as info:
        client(sandbox).create_contact(2, ContactFields(name="no phone"))
    assert info.value.status == 422 and info.value.body == {"errors": {"phone1": ["can't be blank"]}}
    assert rows(sandbox) == []


def test_contact_fields_are_checked_before_sending():
    with pytest.raises(ValueError):
        ContactFields(phone1="+380 93 000")
    with pytest.raises(ValueError):
        ContactFields(nickname="x")


def test_wrong_key_is_an_auth_error_without_the_key(sandbox):
    with pytest.raises(errors.AuthError) as info:
        client(sandbox, key="wrong-secret").list_users()
    assert info.value.status == 401 and "wrong-secret" not in str(info.value)


def test_the_doc_examples_work_as_written(sandbox):
    # Given the doc's own requests: key as a query parameter, contact as multipart (curl -F)
    base = f"{sandbox.url}/obzvonilka/api/contact_bases"
    listed = requests.get(f"{base}.json?api_key={KEY}", timeout=5)
    created = requests.post(f"{base}/1/contacts.json?api_key={KEY}", timeout=5,
                            files={"contact[name]": (None, "abc"), "contact[phone1]": (None, "987654321")})
    # Then the sandbox answers them like the client's header + urlencoded form
    assert listed.status_code == 200 and len(listed.json()) == 3
    assert created.status_code == 200 and created.json()["name"] == "abc"


def test_a_redirect_is_an_auth_error():
    class Redirecting(requests.Session):
        def request(self, method, url, **kwargs):
            response = requests.Response()
            response.status_code, response.url = 302, url
            response.headers["Location"] = "https://obzvonilka.ru/users/sign_in"
            assert kwargs["allow_redirects"] is False
            return response

    c = ObzvonilkaClient(SecretStr("k"), base_url="https://obzvonilka.ru", session=Redirecting())
    with pytest.raises(errors.AuthError, match="sign_in"):
        c.list_users()


def test_429_is_transient_with_retry_after(sandbox):
    c = client(sandbox, key="slow-key")
    c.list_users()
    with pytest.raises(errors.RateLimited) as info:
        c.list_users()
    assert info.value.retry_after_s >= 1


def test_5xx_and_hangs_are_transient(sandbox):
    sandbox.control.configure(error_rate=1.0)
    with pytest.raises(errors.VendorServerError):
        client(sandbox).list_contact_bases()
    sandbox.control.configure(error_rate=0, hang_rate=1.0, hang_s=3)
    with pytest.raises(errors.VendorTimeout):
        client(sandbox, read_timeout_s=0.3).create_contact(2, ContactFields(phone1="380930000003"))
    assert len(rows(sandbox, base=2)) == 1  # applied, though the answer never came


def test_nobody_listening_is_a_connection_error():
    with pytest.raises(errors.VendorConnectionError):
        client(None, base_url=f"http://127.0.0.1:{free_port()}/obzvonilka").list_users()
