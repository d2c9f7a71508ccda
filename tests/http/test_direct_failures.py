"""Over the lean transport (vendors.direct), a call keeps its deadline, its start-by time and
the classes of its failures: never connected is nothing sent, anything after is unknown; and
a kept-alive connection the server closed while idle is replaced, not reported."""

from __future__ import annotations

import http.client
import os
import socket
import struct
import time

import pytest

from tests.support.raw_http import OK, answer_each, lean_vendor
from vendors import deadline, direct, errors
from vendors.http import new_session



pytestmark = pytest.mark.usefixtures("no_urllib3")






def test_a_vendor_trickling_its_answer_is_cut_at_the_total_deadline(serve):
    def trickle(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")
        for _ in range(50):
            conn.sendall(b"x")
            time.sleep(0.2)  # well inside the 1 s read timeout, per gap

    server = serve(trickle)
    started = time.monotonic()
    with pytest.raises(errors.VendorTimeout, match="within 1.0 s"):
        lean_vendor(server.url, (1.0, 1.0, 1.0)).send("POST", "/rows", json={"a": 1})
    assert 0.9 <= time.monotonic() - started < 1.6


def test_no_answer_within_the_read_timeout_is_a_timeout(serve):
    server = serve(lambda conn, s: (s.read_request(conn), time.sleep(3)))
    started = time.monotonic()
    with pytest.raises(errors.VendorTimeout, match="no answer within 0.5 s"):
        lean_vendor(server.url, (1.0, 0.5, 5.0)).send("POST", "/rows", json={"a": 1})
    assert time.monotonic() - started < 1.2


def test_a_request_past_its_start_by_time_sends_nothing_and_takes_no_connection(serve):
    server = serve(answer_each())
    http = lean_vendor(server.url)
    # When a first call is made too late, then one in time, then a late one on the kept-alive connection
    with deadline.start_by(time.monotonic() - 0.01), pytest.raises(deadline.StartPassed):
        http.send("POST", "/rows", json={"a": 1})
    assert server.connections == 0
    http.send("POST", "/rows", json={"a": 2})
    with deadline.start_by(time.monotonic() - 0.01), pytest.raises(deadline.StartPassed):
        http.send("POST", "/rows", json={"a": 3})
    # Then only the one in time reached the vendor, and the connection is still good
    http.send("POST", "/rows", json={"a": 4})
    assert [r.endswith(b'{"a": 2}') or r.endswith(b'{"a": 4}') for r in server.received] == [True, True]
    assert server.connections == 1


def test_a_refused_connection_is_nothing_sent():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    with pytest.raises(errors.VendorConnectionError, match="connection failed"):
        lean_vendor(f"http://127.0.0.1:{port}").send("POST", "/rows", json={"a": 1})


def test_a_name_that_does_not_resolve_is_nothing_sent():
    with pytest.raises(errors.VendorConnectionError, match="connection failed"):
        lean_vendor("http://vendor.invalid").send("POST", "/rows", json={"a": 1})


def test_a_connect_timeout_is_nothing_sent():
    # Given a listener whose backlog is full, so that a new connection is never accepted
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    try:
        with pytest.raises(errors.VendorConnectionError, match="connect timeout"):
            lean_vendor(f"http://127.0.0.1:{port}", (0.3, 1.0, 5.0)).send("POST", "/rows", json={"a": 1})
    finally:
        for sock in [*fillers, listener]:
            sock.close()


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"res"])
def test_a_connection_broken_after_the_request_went_out_is_an_unknown_outcome(serve, answer):
    server = serve(lambda conn, s: (s.read_request(conn), conn.sendall(answer), conn.close()))
    with pytest.raises(errors.OutcomeUnknown, match="connection lost"):
        lean_vendor(server.url).send("POST", "/rows", json={"a": 1})
    assert len(server.received) == 1


def test_a_kept_alive_connection_the_vendor_closed_while_idle_is_replaced(serve):
    # Given a vendor that closes each connection soon after its answer, without saying so
    def one_answer(conn, server):
        server.read_request(conn)
        conn.sendall(OK)
        time.sleep(0.05)
        conn.close()

    server = serve(one_answer)
    http = lean_vendor(server.url)
    http.request("POST", "/rows", json={"a": 1})
    time.sleep(0.2)
    # When the next call is made, then it goes over a new connection, with no error
    assert http.request("POST", "/rows", json={"a": 2}).json() == {"result": True}
    assert server.connections == 2 and len(server.received) == 2


def test_an_answer_saying_close_is_followed_by_a_new_connection(serve):
    server = serve(answer_each(OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")))
    http = lean_vendor(server.url)
    for n in range(2):
        assert http.request("POST", "/rows", json={"n": n}).json() == {"result": True}
    assert server.connections == 2


def test_a_reused_connection_waits_its_new_timeout_not_what_the_last_deadline_left(serve):
    # Given a kept-alive connection whose last answer was read close to a deadline
    server = serve(answer_each())
    session = new_session(base_url=server.url)
    with deadline.within(0.5):
        session.post(server.url + "/rows", json={"a": 1}, timeout=(1.0, 1.0))
    # When it is taken for a call outside any deadline, then its socket waits that call's timeout
    connections = session.get_adapter(server.url)._direct
    key = ("http", "127.0.0.1", server.port, None)
    conn = connections._take(None, key, 7.0)
    assert conn.timeout == 7.0 and server.connections == 1  # what a write may wait; the socket has none (vendors.channel)
    conn.close()


class SoftTimeLimit(BaseException):
    """As Celery's SoftTimeLimitExceeded: raised into whatever the task was doing."""


def test_a_connection_whose_connect_is_interrupted_is_closed_not_leaked(serve, monkeypatch):
    server = serve(answer_each())
    made = []

    def interrupted(conn):
        http.client.HTTPConnection.connect(conn)
        made.append(conn)
        raise SoftTimeLimit()

    monkeypatch.setattr(direct._HTTPConnection, "connect", interrupted)
    with pytest.raises(SoftTimeLimit):
        lean_vendor(server.url).send("POST", "/rows", json={"a": 1})
    assert len(made) == 1 and made[0].sock is None  # closed


def test_a_connection_taken_then_interrupted_before_the_exchange_is_closed(serve, monkeypatch):
    # Given a kept-alive connection
    server = serve(answer_each())
    http_ = lean_vendor(server.url)
    http_.send("POST", "/rows", json={"a": 1})
    (conn,) = http_.session.get_adapter(server.url)._direct._idle[("http", "127.0.0.1", server.port, None)]

    # When a time limit strikes after it is taken, before anything is sent, then it is closed, not lost open
    def interrupted(*args):
        raise SoftTimeLimit()

    monkeypatch.setattr(direct, "_exchange", interrupted)
    with pytest.raises(SoftTimeLimit):
        http_.send("POST", "/rows", json={"a": 2})
    assert conn.sock is None


def test_a_failure_to_connect_names_its_request_as_over_urllib3():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    with pytest.raises(errors.VendorConnectionError) as failed:
        lean_vendor(f"http://127.0.0.1:{port}").send("POST", "/rows", json={"a": 1})
    assert failed.value.__cause__.request.url == f"http://127.0.0.1:{port}/rows"


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed"])
def test_a_reused_connection_broken_after_the_vendor_read_the_request_is_an_unknown_outcome(serve, reset):
    # Given a vendor that answers the first request, reads the second on the same connection and breaks it
    def second_breaks(conn, server):
        server.read_request(conn)
        conn.sendall(OK)
        server.read_request(conn)
        if reset:  # an RST, not a FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    server = serve(second_breaks)
    http_ = lean_vendor(server.url)
    http_.request("POST", "/rows", json={"a": 1})
    # When the second call goes out over the kept-alive connection, then it is not "nothing sent", and not re-sent
    with pytest.raises(errors.OutcomeUnknown, match="connection lost") as lost:
        http_.send("POST", "/rows", json={"a": 2})
    assert not isinstance(lost.value, errors.VendorConnectionError)
    assert len(server.received) == 2 and server.connections == 1


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 16\r\n\r\n",  # the length of what was not sent
])
def test_an_answer_without_a_body_leaves_the_connection_reusable(serve, answer):
    server = serve(answer_each(answer))
    http_ = lean_vendor(server.url)
    for n in range(3):
        response = http_.send("POST", "/rows", json={"n": n})
        assert response.content == b""
    assert server.connections == 1 and len(server.received) == 3


def test_a_forked_child_never_uses_its_parents_kept_alive_connection(serve):
    # Given a session with a kept-alive connection
    server = serve(answer_each())
    http_ = lean_vendor(server.url)
    http_.request("POST", "/rows", json={"a": 1})
    # When a forked child calls over the same session (and closes it), then it makes its own connection
    pid = os.fork()
    if pid == 0:  # the child: no pytest past this point
        code = 1
        try:
            http_.request("POST", "/rows", json={"child": 1})
            http_.session.close()  # closes the child's connection only
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert server.connections == 2
    # And the parent's connection is still open and good
    http_.request("POST", "/rows", json={"a": 2})
    assert server.connections == 2 and len(server.received) == 3
