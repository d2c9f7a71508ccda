"""The lean transport's own HTTP/1.1 (vendors/wire.py, used by vendors/direct.py): how an
answer's end is found (length, chunks, the close), what is not one answer, what a connection
can carry after it, and a request HTTP forbids refused before anything is sent."""

from __future__ import annotations

import gzip
import time

import pytest
import requests

from tests.support.raw_http import LEAN_HEADERS, OK, RawServer, answer_each, lean_vendor
from vendors import direct, errors, wire
from vendors.http import new_session

CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"6\r\n{\"resu\r\na\r\nlt\": true}\r\n0\r\n\r\n")


pytestmark = pytest.mark.usefixtures("no_urllib3")






def answer_then_close(answer: bytes):
    """A server answering one request on each connection with `answer`, then closing it."""
    def handle(conn, server):
        server.read_request(conn)
        conn.sendall(answer)
        conn.close()
    return handle


def calls(server: RawServer, count: int = 2) -> list[requests.Response]:
    http_ = lean_vendor(server.url)
    return [http_.request("POST", "/rows", json={"n": n}) for n in range(count)]


# The end of an answer, and whether its connection carries the next request


def test_a_chunked_answer_is_read_whole_and_its_connection_reused(serve):
    server = serve(answer_each(CHUNKED))
    assert [r.json() for r in calls(server)] == [{"result": True}] * 2
    assert server.connections == 1


def test_an_answer_whose_body_runs_until_the_close_is_read_whole_and_not_reused(serve):
    server = serve(answer_then_close(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"result\": true}"))
    assert [r.json() for r in calls(server)] == [{"result": True}] * 2
    assert server.connections == 2


@pytest.mark.parametrize("keep_alive, connections", [(False, 2), (True, 1)])
def test_an_http_1_0_answer_is_reused_only_when_it_says_keep_alive(serve, keep_alive, connections):
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n" + (b"Connection: keep-alive\r\n" if keep_alive else b"")
    server = serve(answer_each(head + b"Content-Length: 16\r\n\r\n{\"result\": true}"))
    answers = calls(server)
    assert [r.json() for r in answers] == [{"result": True}] * 2 and answers[0].raw.version == 10
    assert server.connections == connections


@pytest.mark.parametrize("informational", [b"HTTP/1.1 100 Continue\r\n\r\n",
                                           b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"])
def test_informational_answers_before_the_answer_are_skipped(serve, informational):
    server = serve(answer_each(informational + OK))
    answers = calls(server)
    assert [(r.status_code, r.json()) for r in answers] == [(200, {"result": True})] * 2
    assert "Link" not in answers[0].headers and server.connections == 1


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",  # nobody asked
    b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    b"<html>not http</html>\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
])
def test_a_malformed_answer_is_an_unknown_outcome_not_nothing_sent(serve, answer):
    server = serve(answer_each(answer))
    with pytest.raises(errors.OutcomeUnknown, match="connection lost"):
        lean_vendor(server.url).send("POST", "/rows", json={"a": 1})
    assert len(server.received) == 1


def test_bytes_after_a_complete_answer_leave_the_answer_but_not_the_connection(serve):
    server = serve(answer_each(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
    assert [r.json() for r in calls(server)] == [{"result": True}] * 2
    assert server.connections == 2


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Le",  # mid-head
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"resu\r\n",  # mid-chunks
])
def test_an_answer_cut_by_the_close_is_an_unknown_outcome(serve, answer):
    server = serve(answer_then_close(answer))
    with pytest.raises(errors.OutcomeUnknown, match="connection lost"):
        lean_vendor(server.url).send("POST", "/rows", json={"a": 1})


def test_an_answer_arriving_a_byte_at_a_time_is_read_as_one(serve):
    def bytewise(conn, server):
        while server.read_request(conn) is not None:
            for byte in CHUNKED:
                conn.sendall(bytes([byte]))
                time.sleep(0.0005)

    server = serve(bytewise)
    assert [r.json() for r in calls(server)] == [{"result": True}] * 2
    assert server.connections == 1


@pytest.mark.parametrize("answer", [CHUNKED, OK, b"HTTP/1.1 100 Continue\r\n\r\n" + OK])
def test_the_parser_takes_an_answer_in_one_byte_reads(answer):
    # Given an answer handed over one byte per read (as a slow network may)
    left = iter(answer)

    def read_into(buffer):
        byte = next(left, None)
        if byte is None:
            return 0
        buffer[0] = byte
        return 1

    # Then it is read whole, with nothing left over
    got = wire.read_answer(read_into, memoryview(bytearray(16)))
    assert (got.status, got.body, got.reusable) == (200, b'{"result": true}', True)
    assert next(left, None) is None


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"Content-Length: 0\r\n\r\n",
], ids=["long", "many"])
def test_a_head_over_the_cap_is_refused_before_it_ends(serve, head):
    # Given a vendor whose head grows past the cap and then never ends
    def endless(conn, server):
        server.read_request(conn)
        conn.sendall(head[:-4])
        time.sleep(3)

    server = serve(endless)
    started = time.monotonic()
    with pytest.raises(errors.OutcomeUnknown, match="connection lost"):
        lean_vendor(server.url, (1.0, 2.0, 5.0)).send("POST", "/rows", json={"a": 1})
    assert time.monotonic() - started < 1.5  # refused as it came, not at the read timeout


def test_repeated_headers_are_all_kept(serve):
    server = serve(answer_each(OK.replace(b"Content-Length", b"X-Rate: a\r\nX-Rate: b\r\nContent-Length")))
    response = calls(server, 1)[0]
    assert response.headers["X-Rate"] == "a, b" and response.reason == "OK"


# Deadlines and timeouts while the body comes


def test_a_read_timeout_mid_body_is_a_timeout(serve):
    def stalls(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{\"res")
        time.sleep(3)

    server = serve(stalls)
    started = time.monotonic()
    with pytest.raises(errors.VendorTimeout, match="no answer within 0.5 s"):
        lean_vendor(server.url, (1.0, 0.5, 5.0)).send("POST", "/rows", json={"a": 1})
    assert time.monotonic() - started < 1.2


def test_a_deadline_passing_mid_chunked_body_is_a_timeout(serve):
    def trickles_chunks(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(40):
            conn.sendall(b"1\r\nx\r\n")
            time.sleep(0.1)  # well inside the read timeout, per gap

    server = serve(trickles_chunks)
    started = time.monotonic()
    with pytest.raises(errors.VendorTimeout, match="within 1.0 s"):
        lean_vendor(server.url, (1.0, 1.0, 1.0)).send("POST", "/rows", json={"a": 1})
    assert 0.9 <= time.monotonic() - started < 1.6


# Cookies: requests reads them from what the transport hands it


def cookie_answer(status: bytes = b"200 OK", extra: bytes = b"", body: bytes = b'{"result": true}') -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nSet-Cookie: sid=abc; Path=/\r\nSet-Cookie: lang=uk; Path=/\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def test_every_cookie_an_answer_sets_goes_into_the_session_and_back(serve):
    answers = iter([cookie_answer(), OK])
    server = serve(lambda conn, s: [conn.sendall(next(answers)) for _ in iter(lambda: s.read_request(conn), None)])
    http_ = lean_vendor(server.url)
    first = http_.request("POST", "/login", json={})
    http_.request("POST", "/rows", json={})
    assert first.cookies.get("sid") == "abc" and first.cookies.get("lang") == "uk"
    assert {"sid": "abc", "lang": "uk"} == http_.session.cookies.get_dict()
    assert b"Cookie: sid=abc; lang=uk" in server.received[1] or b"Cookie: lang=uk; sid=abc" in server.received[1]


def test_a_cookie_set_with_a_gzip_body_is_kept_and_the_body_decoded(serve):
    body = gzip.compress(b'{"result": true}')
    server = serve(answer_each(cookie_answer(extra=b"Content-Encoding: gzip\r\n", body=body)))
    response = lean_vendor(server.url).request("POST", "/login", json={})
    assert response.json() == {"result": True} and response.cookies.get("sid") == "abc"


def test_a_cookie_set_by_a_redirect_goes_to_where_it_leads(serve):
    def redirects(conn, server):
        while (request := server.read_request(conn)) is not None:
            conn.sendall(cookie_answer(b"302 Found", b"Location: /landing\r\n", b"") if b"/login" in request else OK)

    server = serve(redirects)
    assert lean_vendor(server.url).request("POST", "/login", json={}).json() == {"result": True}
    assert server.received[1].startswith(b"GET /landing ") and b"sid=abc" in server.received[1]


# The request: as http.client writes it, and refused before anything goes out when HTTP forbids it


@pytest.mark.parametrize("origin, host", [
    ("http://vendor.example", "vendor.example"), ("http://vendor.example:80", "vendor.example"),
    ("https://vendor.example:443", "vendor.example"), ("https://vendor.example:80", "vendor.example:80"),
    ("http://vendor.example:8080", "vendor.example:8080"), ("http://[::1]", "[::1]"), ("http://[::1]:81", "[::1]:81"),
])
def test_the_host_header_is_the_one_http_client_sends(origin, host):
    assert direct._target(origin)[3] == host


def prepared(url: str, **kwargs) -> requests.PreparedRequest:
    return requests.Request("POST", url + "/rows", json={"a": 1}, headers=LEAN_HEADERS, **kwargs).prepare()


@pytest.mark.parametrize("spoil", [
    lambda request: request.headers.__setitem__("X-Note", "s3cr3t\r\nX-Injected: 1"),
    lambda request: request.headers.__setitem__("X-Note", "s3cr3t\n"),  # requests' own check lets it by
    lambda request: request.headers.__setitem__("X-Note\n", "ok"),  # this one too
    lambda request: request.headers.__setitem__("X Note", "ok"),
    lambda request: request.headers.__setitem__("X-Note", "ok\x00"),
    lambda request: setattr(request, "method", "POST /admin HTTP/1.1\r\nX-Injected: 1\r\n\r\nPOST"),
    lambda request: setattr(request, "url", request.url + " HTTP/1.1\r\nX-Injected: 1"),
    lambda request: setattr(request, "url", request.url + "\x7f"),
], ids=["crlf-value", "lf-value", "lf-name", "space-name", "nul-value", "method", "path", "del-path"])
def test_a_request_http_forbids_is_refused_with_nothing_sent(serve, spoil):
    server = serve(answer_each())
    session = new_session(base_url=server.url)
    request = prepared(server.url)
    spoil(request)
    with pytest.raises(ValueError, match="forbids") as refused:
        session.send(request, timeout=(1.0, 1.0))
    assert server.connections == 0 and server.received == []
    assert "X-Injected" not in str(refused.value) and "s3cr3t" not in str(refused.value)  # no header's value told


def test_a_header_value_beyond_latin_1_is_refused_telling_no_credential(serve):
    server = serve(answer_each())
    request = prepared(server.url + "/?sig=s3cr3t-sig")
    request.headers["X-Name"] = "Олена"
    with pytest.raises(ValueError, match="beyond latin-1") as refused:
        new_session(base_url=server.url).send(request, timeout=(1.0, 1.0))
    assert server.connections == 0
    told = repr(refused.value) + repr(refused.value.args) + str(refused.value)
    assert "k-123" not in told and "s3cr3t-sig" not in told and refused.value.__context__ is None


@pytest.mark.parametrize("spoil", [
    lambda request: setattr(request, "url", request.url + "/Олена"),
    lambda request: setattr(request, "method", "PÖST"),
], ids=["path", "method"])
def test_a_request_line_beyond_ascii_is_refused_with_nothing_sent(serve, spoil):
    server = serve(answer_each())
    request = prepared(server.url)
    spoil(request)
    with pytest.raises(ValueError, match="forbids"):
        new_session(base_url=server.url).send(request, timeout=(1.0, 1.0))
    assert server.connections == 0


def test_a_refused_request_leaves_a_kept_alive_connection_usable(serve):
    server = serve(answer_each())
    session = new_session(base_url=server.url)
    session.send(prepared(server.url), timeout=(1.0, 1.0))
    request = prepared(server.url)
    request.headers["X-Note"] = "ok\n"
    with pytest.raises(ValueError):
        session.send(request, timeout=(1.0, 1.0))
    assert session.send(prepared(server.url), timeout=(1.0, 1.0)).json() == {"result": True}
    assert server.connections == 1 and len(server.received) == 2


# Trailers of a chunked answer: dropped, as http.client and urllib3 drop them, and capped

TRAILED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"10\r\n{\"result\": true}\r\n0\r\n")


def test_a_trailer_sets_no_cookie(serve):
    server = serve(answer_each(TRAILED + b"Set-Cookie: evil=1; Path=/\r\n\r\n"))
    http_ = lean_vendor(server.url)
    assert http_.request("POST", "/rows", json={}).json() == {"result": True}
    assert http_.session.cookies.get_dict() == {}


def test_a_trailer_changes_no_header_of_the_answer(serve):
    server = serve(answer_each(TRAILED + b"Content-Encoding: gzip\r\nX-Late: 1\r\n\r\n"))
    response = lean_vendor(server.url).request("POST", "/rows", json={})
    assert response.json() == {"result": True} and "X-Late" not in response.headers
    assert server.connections == 1


def test_trailers_that_never_end_are_refused_as_they_come(serve):
    def endless(conn, server):
        server.read_request(conn)
        conn.sendall(TRAILED + b"X-Pad: ")
        for _ in range(200):
            conn.sendall(b"a" * 1_000)  # one trailer value growing past the cap, then more
            time.sleep(0.001)
        time.sleep(3)

    server = serve(endless)
    started = time.monotonic()
    with pytest.raises(errors.OutcomeUnknown, match="connection lost"):
        lean_vendor(server.url, (1.0, 2.0, 5.0)).send("POST", "/rows", json={"a": 1})
    assert time.monotonic() - started < 1.5  # refused as it came, not at the read timeout


# An exception raised while the parser calls back (a signal's: Ctrl-C, a task's time limit) is not lost


class Interrupted(BaseException):
    pass


@pytest.mark.parametrize("callback", ["on_header", "on_body", "on_message_complete"])
def test_an_exception_raised_in_a_parser_callback_comes_out_as_it_is(monkeypatch, callback):
    original = getattr(wire._Reading, callback)

    def interrupted(self, *args):
        original(self, *args)
        raise Interrupted()

    monkeypatch.setattr(wire._Reading, callback, interrupted)
    left = [OK]

    def read_into(buffer):
        data = left.pop() if left else b""
        buffer[:len(data)] = data
        return len(data)

    with pytest.raises(Interrupted):
        wire.read_answer(read_into, memoryview(bytearray(1024)))


# An answer body is capped (MAX_BODY_BYTES): refused as declared, or as it comes


def read_from(chunks):
    """read_into over `chunks`, then the end of file."""
    left = list(reversed(chunks))

    def read_into(buffer):
        if not left:
            return 0
        data = left.pop()
        buffer[:len(data)] = data
        return len(data)
    return read_into


def test_an_answer_declaring_a_body_over_the_cap_is_refused_before_it_comes():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (wire.MAX_BODY_BYTES + 1)
    with pytest.raises(wire.Malformed, match="declared longer"):
        wire.read_answer(read_from([head]), memoryview(bytearray(1024)))


def test_a_304_may_declare_any_length_as_it_has_no_body():
    head = b"HTTP/1.1 304 Not Modified\r\nContent-Length: %d\r\n\r\n" % (wire.MAX_BODY_BYTES * 4)
    assert wire.read_answer(read_from([head]), memoryview(bytearray(1024))).status == 304


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"],
                         ids=["chunked", "until-close"])
def test_a_body_growing_past_the_cap_is_refused_as_it_comes(monkeypatch, head):
    monkeypatch.setattr(wire, "MAX_BODY_BYTES", 10_000)
    piece = b"1000\r\n" + b"x" * 4096 + b"\r\n" if b"chunked" in head else b"x" * 4096
    reads = [head] + [piece] * 3
    with pytest.raises(wire.Malformed, match="body longer"):
        wire.read_answer(read_from(reads), memoryview(bytearray(8192)))


def test_a_body_at_the_cap_is_read_whole(monkeypatch):
    monkeypatch.setattr(wire, "MAX_BODY_BYTES", 10_000)
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + b"x" * 10_000
    assert len(wire.read_answer(read_from([answer]), memoryview(bytearray(65_536))).body) == 10_000


# Only HTTP/1.x answers (llhttp takes others, and reports them as 1.0 or 1.1)


@pytest.mark.parametrize("status_line", [b"HTTP/2.0 200 OK", b"HTTP/0.9 200 OK", b"RTSP/1.0 200 OK", b"ICE/1.0 200 OK",
                                         b"HTTP/1.1 099 Early"])
def test_an_answer_that_is_not_http_1_is_malformed(status_line):
    answer = status_line + b"\r\nContent-Length: 2\r\n\r\n{}" + OK
    with pytest.raises(wire.Malformed):
        wire.read_answer(read_from([answer]), memoryview(bytearray(1024)))


@pytest.mark.parametrize("split", [1, 3, 7, 9])
def test_an_http_1_answer_is_taken_however_its_first_bytes_are_split(split):
    answer = b"\r\n" + OK
    got = wire.read_answer(read_from([answer[:split], answer[split:]]), memoryview(bytearray(1024)))
    assert (got.status, got.version, got.body) == (200, 11, b'{"result": true}')


def test_an_rtsp_answer_split_before_its_name_is_malformed():
    with pytest.raises(wire.Malformed):
        wire.read_answer(read_from([b"RT", b"SP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"]), memoryview(bytearray(1024)))


def test_no_more_than_one_byte_over_the_head_cap_is_read():
    # Given a head that never ends, offered as fast as it is read
    taken = []

    def read_into(buffer):
        data = (b"HTTP/1.1 200 OK\r\nX-Pad: " if not taken else b"") + b"a" * len(buffer)
        data = data[:len(buffer)]
        buffer[:len(data)] = data
        taken.append(len(data))
        return len(data)

    with pytest.raises(wire.Malformed, match="longer than"):
        wire.read_answer(read_into, memoryview(bytearray(direct.READ_BYTES)))
    assert sum(taken) == wire.MAX_HEAD_BYTES + 1


# request_bytes' own additions, as http.client makes them (requests usually gives both itself)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_body_less_request_of_a_method_expecting_one_says_content_length_0(method):
    data = wire.request_bytes(method, "/rows", "vendor.example", {}, None)
    assert data == (f"{method} /rows HTTP/1.1\r\nHost: vendor.example\r\nAccept-Encoding: identity\r\n"
                    "Content-Length: 0\r\n\r\n").encode()


def test_a_get_without_a_body_says_no_length_and_given_headers_are_not_repeated():
    data = wire.request_bytes("GET", "/", "vendor.example", {"Accept-Encoding": "gzip", "Host": "other"}, None)
    assert data == b"GET / HTTP/1.1\r\nAccept-Encoding: gzip\r\nHost: other\r\n\r\n"


def test_a_body_gets_its_length_unless_the_request_is_chunked():
    assert wire.request_bytes("POST", "/", "h", {}, b"abc").endswith(b"Content-Length: 3\r\n\r\nabc")
    chunked = wire.request_bytes("POST", "/", "h", {"Transfer-Encoding": "chunked"}, b"3\r\nabc\r\n0\r\n\r\n")
    assert b"Content-Length" not in chunked
