"""The Ringostat client over real HTTP to the sandbox: headers, body, and the error tree."""

from __future__ import annotations

import pickle

import pytest
from pydantic import SecretStr

from sandbox import start_sandbox
from vendors import errors
from vendors.http import new_session
from vendors.ringostat import RingostatClient, RingostatCredentials
from workers.dev.devstack import free_port


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox("--project", "123=right-key", "--rate", "77=2/1", "--project", "77=k77") as s:
        yield s


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.control.reset()
    sandbox.control.configure(error_rate=0, hang_rate=0)


def client(sandbox, key="right-key", project="123", read_timeout_s=2.0, base_url=None):
    creds = RingostatCredentials(auth_key=SecretStr(key), project_id=project)
    return RingostatClient(creds, base_url=base_url or f"{sandbox.url}/ringostat", session=new_session(),
                           timeout_s=(1.0, read_timeout_s))


def test_adds_one_row_as_the_doc_shows(sandbox):
    assert client(sandbox).add_campaign_row(456, "380930000000", "Іван Петренко").result is True
    assert sandbox.control.rows() == [
        {"project": "123", "campaign_id": 456, "phone_number": "380930000000", "fio": "Іван Петренко",
         "t": pytest.approx(sandbox.control.rows()[0]["t"]),
         "arrived_t": pytest.approx(sandbox.control.rows()[0]["arrived_t"])}
    ]


def test_wrong_key_is_a_permanent_auth_error_with_the_vendor_body(sandbox):
    with pytest.raises(errors.AuthError) as info:
        client(sandbox, key="wrong").add_campaign_row(456, "380930000000")
    assert info.value.status == 401 and info.value.body == {"result": False, "error": "Invalid Auth-key"}
    assert "wrong" not in str(info.value)  # the key is not echoed into messages


def test_bad_number_is_rejected_before_sending():
    with pytest.raises(ValueError):
        RingostatClient(RingostatCredentials(auth_key=SecretStr("k"), project_id="1"), base_url="http://x",
                        session=new_session()).add_campaign_row(456, "380930000000,380930000001")


def test_429_is_transient_with_retry_after(sandbox):
    c = client(sandbox, key="k77", project="77")
    c.add_campaign_row(1, "380930000000")
    with pytest.raises(errors.RateLimited) as info:
        for _ in range(3):
            c.add_campaign_row(1, "380930000001")
    assert info.value.status == 429 and info.value.retry_after_s >= 1
    assert isinstance(info.value, errors.TransientVendorError)


def test_5xx_is_transient(sandbox):
    sandbox.control.configure(error_rate=1.0)
    with pytest.raises(errors.VendorServerError) as info:
        client(sandbox).add_campaign_row(456, "380930000000")
    assert info.value.status >= 500


def test_hang_is_a_timeout_and_the_row_may_have_landed(sandbox):
    sandbox.control.configure(hang_rate=1.0, hang_s=3)
    with pytest.raises(errors.VendorTimeout):
        client(sandbox, read_timeout_s=0.3).add_campaign_row(456, "380930000000")
    assert len(sandbox.control.rows()) == 1


def test_nobody_listening_is_a_connection_error():
    with pytest.raises(errors.VendorConnectionError):
        client(None, base_url=f"http://127.0.0.1:{free_port()}/ringostat").add_campaign_row(456, "380930000000")


def test_errors_survive_pickling_for_celery():
    exc = errors.RateLimited("slow down", vendor="ringostat", status=429, body={"e": 1}, retry_after_s=2.5)
    again = pickle.loads(pickle.dumps(exc))
    assert (type(again), again.status, again.body, again.retry_after_s) == (errors.RateLimited, 429, {"e": 1}, 2.5)


def test_connection_lost_after_sending_is_an_unknown_outcome():
    # Given a server that reads the whole request and then hangs up without answering
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/ringostat"
    with pytest.raises(errors.OutcomeUnknown) as info:
        client(None, base_url=url).add_campaign_row(456, "380930000000")
    assert not isinstance(info.value, errors.VendorConnectionError)
    server.close()
