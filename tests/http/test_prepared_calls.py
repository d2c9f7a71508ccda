"""A vendor client's calls prepared once per endpoint (vendors.prepared) send what
Session.request would: each call's own body and headers, within the total deadline; through
the session's adapter when the answer needs nothing more of Session.send, and through
requests' own redirect and cookie handling when it does."""

from __future__ import annotations

import json
import time

import pytest
import requests

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


def counted_sends(session) -> list[int]:
    calls: list[int] = []
    send = session.send
    session.send = lambda request, **kwargs: (calls.append(1), send(request, **kwargs))[1]
    return calls


def test_a_plain_answer_comes_from_the_adapter_without_session_send(server):
    # Given a client's HTTP over a session from new_session
    server.answers["/rows"] = (200, {"result": True}, {})
    session = new_session(base_url=server.url)
    sends = counted_sends(session)
    http = VendorHttp("test", base_url=server.url, session=session, headers=HEADERS)
    # When a row is posted
    response = http.request("POST", "/rows", json={"a": 1})
    # Then Session.send was not called, and the answer is the Response Session.send would give
    assert sends == []
    assert isinstance(response, requests.Response) and response.json() == {"result": True}
    assert response.history == [] and response.elapsed.total_seconds() > 0 and response.next is None
    assert response.request.headers["Auth-key"] == "k-123" and response.url == server.url + "/rows"


def test_a_redirect_to_another_host_through_the_adapter_path_drops_the_credentials(server):
    # Given a vendor path that redirects (307: the body goes along) to another host
    elsewhere = ScriptedServer("127.0.0.1")
    try:
        elsewhere.answers["/landing"] = (200, {"result": True}, {})
        server.answers["/rows"] = (307, {}, {"Location": elsewhere.url.replace("127.0.0.1", "localhost") + "/landing"})
        session = new_session(base_url=server.url)
        sends = counted_sends(session)
        http = VendorHttp("test", base_url=server.url, session=session, headers=HEADERS)
        # When a row is posted
        response = http.request("POST", "/rows", json={"a": 1})
        # Then the redirect was followed through the session (Session.send for the second request)
        assert len(sends) == 1 and response.json() == {"result": True}
        assert [r.status_code for r in response.history] == [307]
        # And the other host got the body without a credential header; the vendor's host had them
        (landing,) = elsewhere.requests
        assert json.loads(landing["body"]) == {"a": 1}
        assert not {name.lower() for name in landing["headers"]} & {"auth-key", "x-project-id"}
        assert server.requests[0]["headers"]["Auth-key"] == "k-123"
    finally:
        elsewhere.close()


def test_a_redirect_not_followed_and_a_cookie_are_kept_as_session_send_keeps_them(server):
    # Given a vendor answering with a redirect and a session cookie (a login)
    server.answers["/login"] = (302, {}, {"Location": "/home", "Set-Cookie": "sid=abc; Path=/"})
    session = new_session(base_url=server.url)
    http = VendorHttp("test", base_url=server.url, session=session, headers=HEADERS)
    # When it is sent without following redirects
    response = http.send("POST", "/login", json={"a": 1}, allow_redirects=False)
    # Then the answer is the redirect, its next request is known, and the cookie is in the session's jar
    assert response.status_code == 302 and response.is_redirect
    assert response.next is not None and response.next.url == server.url + "/home"
    assert session.cookies.get("sid") == "abc"
    assert [r["path"] for r in server.requests] == ["/login"]


def test_a_session_with_its_own_send_or_response_hooks_gets_the_call_through_session_send(server):
    server.answers["/rows"] = (200, {"result": True}, {})

    class Wrapped(type(new_session())):
        def send(self, request, **kwargs):
            self.sent = getattr(self, "sent", 0) + 1
            return super().send(request, **kwargs)

    wrapped = Wrapped()
    hooked = new_session(base_url=server.url)
    seen: list[int] = []
    hooked.hooks["response"].append(lambda response, **kwargs: seen.append(response.status_code))
    sends = counted_sends(hooked)
    # When each posts a row through a client's HTTP
    VendorHttp("test", base_url=server.url, session=wrapped, headers=HEADERS).request("POST", "/rows", json={"a": 1})
    VendorHttp("test", base_url=server.url, session=hooked, headers=HEADERS).request("POST", "/rows", json={"a": 1})
    # Then both went through Session.send: the subclass's send ran, and so did the hook
    assert wrapped.sent == 1
    assert sends == [1] and seen == [200]


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
