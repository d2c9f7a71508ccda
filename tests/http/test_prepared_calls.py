"""A vendor client's calls prepared once per endpoint (vendors.prepared) send what
Session.request would: each call's own body and headers, within the total deadline."""

from __future__ import annotations

import json
import time

import pytest

from sandbox import start_sandbox
from tests.support.scripted_http import ScriptedServer
from vendors import errors
from vendors.http import VendorHttp, new_session

HEADERS = {"Auth-key": "k-123", "x-project-id": "77", "Content-Type": "application/json"}


@pytest.fixture
def server():
    s = ScriptedServer()
    yield s
    s.close()


def counted_prepares(session) -> list[int]:
    calls: list[int] = []
    prepare = session.prepare_request
    session.prepare_request = lambda request: (calls.append(1), prepare(request))[1]
    return calls


def test_calls_to_one_endpoint_are_prepared_once_and_each_sends_its_own_body(server):
    # Given a client's HTTP over a session from new_session
    server.answers["/rows"] = (200, {"result": True}, {})
    session = new_session(base_url=server.url)
    prepares = counted_prepares(session)
    http = VendorHttp("test", base_url=server.url, session=session, headers=HEADERS)
    # When three rows of different lengths are posted
    bodies = [{"phone_number": "380930000001", "fio": ""}, {"phone_number": "380930000002", "fio": "Олена " * 9},
              {"phone_number": "3", "fio": "x"}]
    for body in bodies:
        assert http.request("POST", "/rows", json=body).json() == {"result": True}
    # Then the request was prepared once, and the vendor got each body whole, with the headers
    assert len(prepares) == 1
    assert [json.loads(r["body"]) for r in server.requests] == bodies
    for request in server.requests:
        assert request["headers"]["Auth-key"] == "k-123" and request["headers"]["x-project-id"] == "77"
        assert int(request["headers"]["Content-Length"]) == len(request["body"].encode())
    # And a form body and an empty one go the same way
    http.send("PATCH", "/rows", data={"a": "1"}, allow_redirects=False)
    http.send("POST", "/rows")
    assert server.requests[-2]["body"] == "a=1" and server.requests[-1]["body"] == ""
    assert server.requests[-1]["headers"]["Content-Length"] == "0"


def test_calls_with_query_params_or_session_cookies_go_through_session_request(server):
    server.answers["/rows"] = (200, {"result": True}, {})
    session = new_session(base_url=server.url)
    prepares = counted_prepares(session)
    http = VendorHttp("test", base_url=server.url, session=session, headers=HEADERS)
    # When a call has query params, and the session holds a cookie (a vendor set one)
    http.send("GET", "/rows", params={"page": "2"})
    session.cookies.set("sid", "abc", domain="127.0.0.1")
    http.send("POST", "/rows", json={"a": 1})
    # Then each was prepared by Session.request: the cookie went with the second
    assert len(prepares) == 2
    assert "sid=abc" in server.requests[-1]["headers"].get("Cookie", "")


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox() as s:
        yield s


def test_a_prepared_call_to_a_trickling_vendor_ends_at_its_total_deadline(sandbox):
    # Given a vendor trickling a byte a second, and a client's call with a total of 1.5 s
    http = VendorHttp("test", base_url=sandbox.url, session=new_session(), headers=HEADERS,
                      timeout_s=(1.0, 3.0, 1.5))
    path = "/_sandbox/trickle?bytes=20&interval_s=1"
    started = time.monotonic()
    # When it is sent with a JSON body (the prepared path)
    with pytest.raises(errors.VendorTimeout, match="within 1.5 s"):
        http.send("GET", path, json={"a": 1})
    # Then it ended at the deadline, not 20 s later
    assert 1.4 <= time.monotonic() - started < 2.5
