"""The SalesScriptPrompter client over real HTTP to the sandbox: every operation, and the error tree."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from sandbox import salesscriptprompter as sandbox_ssp
from sandbox import start_sandbox
from vendors import errors
from vendors.http import new_session
from vendors.salesscriptprompter import FieldChange, NewField, SalesScriptPrompterClient
from workers.dev.devstack import free_port

KEY = "right-ssp-key"
API = "/salesscriptprompter/integration/apiv2"


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox("--rate", "slow=2/1") as s:
        sandbox_ssp.configure(s.url, keys={KEY: "acme", "slow-key": "slow"})
        yield s


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.control.reset()
    sandbox.control.configure(error_rate=0, hang_rate=0)


def client(sandbox, key=KEY, base_url=None, session=None):
    return SalesScriptPrompterClient(SecretStr(key), base_url=base_url or sandbox.url + API,
                                     session=session or new_session(), timeout_s=(1.0, 2.0))


def rows(sandbox, **filters):
    return [{k: v for k, v in row.items() if k != "t"}
            for row in sandbox.control.rows(vendor="salesscriptprompter", **filters)]


def test_key_goes_in_the_key_header_and_never_in_the_url(sandbox):
    # Given a session that remembers what it sent
    sent = []
    session = new_session()
    session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    # When the key is checked
    check = client(sandbox, session=session).check_key()
    # Then the vendor knew the key from the header alone, and the echoed key stays masked in dumps
    assert check.user_id == 123456 and check.key.get_secret_value() == KEY
    assert check.model_dump(mode="json")["key"] == "**********"
    assert sent[0].headers["Key"] == KEY and KEY not in sent[0].url


def test_users_list_with_roles_and_masked_tokens(sandbox):
    users = client(sandbox).list_users()
    assert [(u.id, u.role) for u in users][:2] == [(123456, "user_head_manager"), (123457, "user_designer")]
    assert users[1].auth_token.get_secret_value() == "token-123457"
    assert "token-123457" not in str(users[1].model_dump(mode="json"))


def test_user_auth_returns_the_redirect_without_following_it(sandbox):
    # When user 123458 is authorized by id (its token looked up with user/list)
    redirect = client(sandbox).authorize_user(123458)
    # Then the answer is the redirect to the main page, with a session started, and nothing followed it
    assert redirect.status == 302 and redirect.session_started
    assert redirect.location == f"{sandbox.url}/salesscriptprompter/"
    assert rows(sandbox, op="user/auth") == [{"account": "acme", "op": "user/auth", "user_id": 123458}]


def test_user_auth_with_a_wrong_token_is_a_vendor_rejection(sandbox):
    with pytest.raises(errors.VendorRejected) as info:
        client(sandbox).authorize(123458, SecretStr("not-the-token"))
    assert info.value.body == {"result": False, "errors": ["Wrong user id or token"]}


def test_user_auth_for_an_unknown_user_is_refused_before_user_auth(sandbox):
    with pytest.raises(errors.VendorRejected, match="no user 999"):
        client(sandbox).authorize_user(999)
    assert rows(sandbox) == []


def test_transport_errors_of_user_auth_do_not_carry_the_token():
    dead = SalesScriptPrompterClient(SecretStr(KEY), base_url=f"http://127.0.0.1:{free_port()}{API}",
                                     session=new_session())
    with pytest.raises(errors.VendorConnectionError) as info:
        dead.authorize(1, SecretStr("tok en/secret"))
    assert "secret" not in str(info.value) and info.value.__cause__ is None


def test_scripts_as_the_doc_shows_them(sandbox):
    scripts = client(sandbox).list_scripts()
    assert [(s.id, s.name, s.published) for s in scripts] == [
        (1617, "Prohod Sekretaria", False), (460, "The purpose of the meeting", True), (198, "Smart4smart 3.0", True)]


def test_attach_record_sends_the_call_and_url(sandbox):
    url = "http://records-server.ru/record_123.mp3?a=1&b=2"
    assert client(sandbox).attach_call_record(1234, url).result is True
    assert rows(sandbox) == [{"account": "acme", "op": "call/attach-record", "call_id": 1234, "url": url}]


def test_custom_field_lifecycle(sandbox):
    c = client(sandbox)
    # Given a field created, then changed
    c.create_field(NewField(code="gender", name="Пол", type="in", type_data="М, Ж"))
    c.update_field(FieldChange(code="gender", name="Gender"))
    # Then the list shows the change
    [field] = c.list_fields()
    assert (field.code, field.name, field.type, field.type_data) == ("gender", "Gender", "in", "М, Ж")
    # And a deleted field is gone
    c.delete_field("gender")
    assert c.list_fields() == []


def test_result_false_is_a_permanent_rejection_carrying_the_errors(sandbox):
    c = client(sandbox)
    c.create_field(NewField(code="name", name="Имя", type="string"))
    with pytest.raises(errors.VendorRejected) as info:
        c.create_field(NewField(code="name", name="Again", type="string"))
    assert isinstance(info.value, errors.PermanentVendorError)
    assert info.value.body == {"result": False, "errors": ["a field with code name exists"]}
    assert "a field with code name exists" in str(info.value)


def test_invalid_parameters_fail_before_sending(sandbox):
    with pytest.raises(ValueError, match="type_data"):
        NewField(code="gender", name="Пол", type="in")
    with pytest.raises(ValueError, match="nothing to change"):
        FieldChange(code="gender")
    with pytest.raises(ValueError):
        client(sandbox).attach_call_record(1, "ftp://records/1.mp3")
    assert sandbox.control.stats()["requests"] == 0


def test_wrong_key_is_an_auth_error_without_the_key(sandbox):
    with pytest.raises(errors.AuthError) as info:
        client(sandbox, key="wrong-key").list_scripts()
    assert info.value.status == 401 and info.value.body == {"result": False, "errors": ["Invalid API key"]}
    assert "wrong-key" not in str(info.value)


def test_429_and_5xx_are_transient(sandbox):
    slow = client(sandbox, key="slow-key")
    slow.list_fields()
    with pytest.raises(errors.RateLimited) as info:
        for _ in range(3):
            slow.list_fields()
    assert info.value.retry_after_s >= 1
    sandbox.control.configure(error_rate=1.0)
    with pytest.raises(errors.VendorServerError):
        client(sandbox).list_fields()
