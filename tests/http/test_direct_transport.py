"""The lean transport (vendors.direct): a session from new_session sends a plain request over
its own connections (vendors.wire, vendors.channel), not urllib3, with the bytes urllib3 would
send, and everything above the adapter (redirects, cookies, content decoding) ends as it does over urllib3."""

from __future__ import annotations

import gzip
import json
import socket
import threading

import pytest
import requests
import urllib3

from tests.support.raw_http import RawServer, answer_each
from tests.support.scripted_http import ScriptedServer
from vendors import direct
from vendors.deadline_adapter import DeadlineAdapter
from vendors.http import VendorHttp, new_session

HEADERS = {"Auth-key": "k-123", "x-project-id": "77", "Content-Type": "application/json"}


def over_urllib3(session: requests.Session) -> requests.Session:
    """The session as it was before the lean transport: DeadlineAdapter mounted."""
    adapter = DeadlineAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@pytest.fixture
def raw():
    server = RawServer(answer_each())
    yield server
    server.close()


def test_a_vendor_call_goes_over_http_client_not_urllib3(raw, urllib3_calls):
    http = VendorHttp("test", base_url=raw.url, session=new_session(base_url=raw.url), headers=HEADERS)
    for n in range(3):
        assert http.request("POST", "/rows", json={"n": n}).json() == {"result": True}
    # Then no call reached urllib3, and the three went over one kept-alive connection
    assert urllib3_calls == [] and raw.connections == 1 and len(raw.received) == 3


@pytest.mark.parametrize("call", [("POST", {"json": {"fio": "Олена", "n": 1}}), ("PATCH", {"data": {"a": "1 2"}}),
                                  ("GET", {}), ("POST", {}), ("DELETE", {"params": {"q": "x y"}})])
def test_the_bytes_sent_are_those_urllib3_sends(raw, call):
    # Given the same call made over the lean transport and over urllib3
    method, kwargs = call
    for session in (new_session(base_url=raw.url), over_urllib3(new_session(base_url=raw.url))):
        VendorHttp("test", base_url=raw.url, session=session, headers=HEADERS).request(method, "/rows", **kwargs)
    # Then the vendor got the same bytes, head and body
    lean, urllib3_sent = raw.received
    assert lean == urllib3_sent


def test_a_request_head_and_body_go_out_in_one_write(raw, monkeypatch):
    # Given every socket write made to the vendor counted, with what it wrote
    writes: list[bytes] = []

    def counted(write):
        def writing(sock, data, *args):
            if sock.getpeername()[1] == raw.port:  # the client's side, not the server's answers
                writes.append(bytes(data))
            return write(sock, data, *args)
        return writing

    for name in ("send", "sendall"):
        monkeypatch.setattr(socket.socket, name, counted(getattr(socket.socket, name)))
    http_ = VendorHttp("test", base_url=raw.url, session=new_session(base_url=raw.url), headers=HEADERS)
    # When two calls with a body and one without are made
    http_.request("POST", "/rows", json={"n": 1})
    http_.request("POST", "/rows", json={"n": 2})
    http_.request("GET", "/rows")
    # Then each request, head and body, was one write, and the vendor got those bytes
    assert len(writes) == 3 and writes == raw.received
    assert writes[0].endswith(b'{"n": 1}') and writes[2].endswith(b"\r\n\r\n")


def test_a_head_request_goes_through_urllib3_and_leaves_its_connection_reusable(urllib3_calls):
    # Given a vendor answering HEAD with the length of a body it does not send
    server = RawServer(answer_each(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"))
    try:
        http_ = VendorHttp("test", base_url=server.url, session=new_session(base_url=server.url), headers=HEADERS)
        # When three HEAD calls are made, then each ends with no body, over one connection, through urllib3
        for n in range(3):
            assert http_.send("HEAD", "/rows").content == b""
        assert server.connections == 1 and len(server.received) == 3 and urllib3_calls == ["/rows"] * 3
    finally:
        server.close()


def test_settings_the_lean_transport_cannot_keep_go_through_urllib3(raw, urllib3_calls):
    # Given a session whose calls stream, or go through a proxy
    session = new_session(base_url=raw.url)
    session.get(raw.url + "/a", timeout=3, stream=True).close()
    session.proxies = {"http": raw.url}  # the "proxy" answers as well
    session.get("http://vendor.invalid/b", timeout=3)
    # Then they went through urllib3, as did nothing else
    assert urllib3_calls == ["/a", "http://vendor.invalid/b"]
    # And so would a call with a client certificate, or an https one not verified
    prepared = requests.Request("GET", raw.url).prepare()
    assert direct.serves(prepared, stream=False, timeout=3, verify=True, cert=None, proxies={})
    assert not direct.serves(prepared, stream=False, timeout=3, verify=True, cert="client.pem", proxies={})
    prepared = requests.Request("GET", "https://vendor.example/").prepare()
    assert direct.serves(prepared, stream=False, timeout=3, verify=True, cert=None, proxies={})
    assert not direct.serves(prepared, stream=False, timeout=3, verify=False, cert=None, proxies={})


def test_a_redirect_to_another_host_goes_on_without_credentials_over_the_lean_transport(urllib3_calls):
    # Given a vendor redirecting to another host (localhost is not 127.0.0.1 to requests)
    vendor, elsewhere = ScriptedServer(), ScriptedServer()
    try:
        elsewhere.answers["/landing"] = (200, {"result": True}, {})
        landing = elsewhere.url.replace("127.0.0.1", "localhost") + "/landing"
        vendor.answers["/rows"] = (307, {}, {"Location": landing})
        http = VendorHttp("test", base_url=vendor.url, session=new_session(), headers=HEADERS)
        # When a call follows it, and another does not
        assert http.request("POST", "/rows", json={"a": 1}).json() == {"result": True}
        held = http.send("POST", "/rows", json={"a": 2}, allow_redirects=False)
        # Then the other host got the first without a credential header, and the second stopped there
        assert [r["path"] for r in elsewhere.requests] == ["/landing"]
        assert not {"auth-key", "x-project-id"} & {name.lower() for name in elsewhere.requests[0]["headers"]}
        assert held.status_code == 307 and held.is_redirect and held.next.url == landing
        assert urllib3_calls == []
    finally:
        vendor.close()
        elsewhere.close()


def test_a_cookie_the_vendor_sets_goes_into_the_session_and_back(urllib3_calls):
    vendor = ScriptedServer()
    try:
        vendor.answers["/login"] = (200, {"result": True}, {"Set-Cookie": "sid=abc; Path=/"})
        vendor.answers["/rows"] = (200, {"result": True}, {})
        session = new_session()
        http = VendorHttp("test", base_url=vendor.url, session=session, headers=HEADERS)
        response = http.request("POST", "/login", json={})
        http.request("POST", "/rows", json={})
        assert response.cookies.get("sid") == "abc" and session.cookies.get("sid") == "abc"
        assert "sid=abc" in vendor.requests[-1]["headers"]["Cookie"]
        assert urllib3_calls == []
    finally:
        vendor.close()


def test_a_gzip_answer_is_decoded_as_over_urllib3(urllib3_calls):
    body = gzip.compress(json.dumps({"result": True, "fio": "Олена"}).encode())
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n" \
           f"Content-Length: {len(body)}\r\n\r\n".encode()
    server = RawServer(answer_each(head + body))
    try:
        answers = [VendorHttp("t", base_url=server.url, session=session, headers=HEADERS).request("GET", "/x")
                   for session in (new_session(), over_urllib3(new_session()))]
        assert [a.json() for a in answers] == [{"result": True, "fio": "Олена"}] * 2
        assert answers[0].headers == answers[1].headers and answers[0].encoding == answers[1].encoding
        assert urllib3_calls == ["/x"]
    finally:
        server.close()


def test_threads_sharing_a_session_never_share_a_connection(raw, urllib3_calls):
    # Given one session used by four threads at once, 25 calls each
    http = VendorHttp("test", base_url=raw.url, session=new_session(), headers=HEADERS)
    failures: list[BaseException] = []

    def calls(thread: int) -> None:
        for n in range(25):
            try:
                assert http.request("POST", "/rows", json={"t": thread, "n": n}).json() == {"result": True}
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

    threads = [threading.Thread(target=calls, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every answer came back whole to its caller, over at most one connection per thread
    assert failures == [] and len(raw.received) == 100 and raw.connections <= 4
    assert urllib3_calls == []


def test_urls_with_signed_query_strings_are_not_kept_by_the_transport(raw):
    # Given calls whose query strings carry a per-request signature
    http = VendorHttp("test", base_url=raw.url, session=new_session(base_url=raw.url), headers=HEADERS)
    http.request("GET", "/rows", params={"sig": "warm"})
    cached = direct._target.cache_info().currsize
    for n in range(3):
        http.request("GET", "/rows", params={"sig": f"s3cr3t-{n}"})
    # Then each went out whole, and the transport's cache holds hosts, not the URLs
    assert [r.split(b"\r\n")[0] for r in raw.received[1:]] == [
        f"GET /rows?sig=s3cr3t-{n} HTTP/1.1".encode() for n in range(3)]
    assert direct._target.cache_info().currsize == cached


def test_the_origin_of_a_url_is_its_scheme_and_host_only():
    assert direct._origin("https://user:pw@vendor.example:8443/a/b?sig=1#f") == "https://vendor.example:8443"
    assert direct._origin("http://vendor.example?sig=1") == "http://vendor.example"
    assert direct._origin("http://[::1]:81/x") == "http://[::1]:81"
