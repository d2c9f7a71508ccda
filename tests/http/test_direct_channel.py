"""The lean transport's sockets (vendors/channel.py): non-blocking once connected, so a call on a
kept-alive connection costs no settimeout and no poll before its send; what does not fit in one
send or one read still goes out and comes in whole, each wait bounded by the deadline; and the
same over TLS."""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from tests.http.test_direct_tls import serve_tls
from tests.support.raw_http import answer_each, lean_vendor
from vendors import direct, errors
from vendors.channel import Channel
from vendors.deadline import DeadlinePassed, within
from vendors.http import new_session



pytestmark = pytest.mark.usefixtures("no_urllib3")






def test_a_call_on_a_kept_alive_connection_sets_no_socket_timeout(serve, monkeypatch):
    # Given a kept-alive connection, and every settimeout on a socket counted from then on
    server = serve(answer_each())
    http_ = lean_vendor(server.url)
    http_.request("POST", "/rows", json={"n": 0})
    settimeouts: list[object] = []
    settimeout = socket.socket.settimeout
    monkeypatch.setattr(socket.socket, "settimeout", lambda sock, value: settimeouts.append(value) or settimeout(sock, value))
    # When three more calls are made, then none changed a socket's timeout (an ioctl each, and a poll before
    # every send and recv with one set), and they went over the same connection
    for n in range(1, 4):
        assert http_.request("POST", "/rows", json={"n": n}).json() == {"result": True}
    assert settimeouts == [] and server.connections == 1


def test_a_request_larger_than_the_socket_buffer_goes_out_whole(serve):
    # Given a vendor that reads slowly, and a body many times the socket's send buffer
    body = "x" * 8_000_000

    def slow_reader(conn, server):
        time.sleep(0.3)
        while server.read_request(conn) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    server = serve(slow_reader)
    assert lean_vendor(server.url, (1.0, 2.0, 10.0)).request("POST", "/rows", data=body).json() == {}
    assert server.received[0].endswith(body.encode()) and len(server.received[0]) > 8_000_000


def test_a_request_the_vendor_never_reads_ends_at_the_deadline(serve):
    server = serve(lambda conn, s: time.sleep(3))  # accepts, never reads
    started = time.monotonic()
    with pytest.raises(errors.VendorTimeout):
        lean_vendor(server.url, (1.0, 5.0, 1.0)).send("POST", "/rows", data="x" * 50_000_000)
    assert 0.9 <= time.monotonic() - started < 1.6


def test_an_answer_in_many_reads_comes_in_whole(serve):
    body = b"[" + b"1," * 500_000 + b"1]"

    def big(conn, server):
        while server.read_request(conn) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            for at in range(0, len(body), 100_000):
                conn.sendall(body[at:at + 100_000])
                time.sleep(0.01)

    server = serve(big)
    http_ = lean_vendor(server.url)
    for n in range(2):
        assert len(http_.request("POST", "/rows", json={"n": n}).json()) == 500_001
    assert server.connections == 1


class KeptAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open between requests

    def do_GET(self) -> None:
        body = b"[" + b"1," * int(self.path.strip("/") or 0) + b"1]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for at in range(0, len(body), 50_000):  # several TLS records, some read before the rest come
            self.wfile.write(body[at:at + 50_000])
            self.wfile.flush()
            time.sleep(0.005)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_answers_small_and_large_over_one_kept_alive_connection(tmp_path, monkeypatch):
    server, cert = serve_tls(tmp_path, "subjectAltName=DNS:localhost")
    server.RequestHandlerClass = KeptAlive
    connections: list[object] = []
    finish = server.finish_request
    server.finish_request = lambda request, address: connections.append(address) or finish(request, address)
    monkeypatch.setattr(direct, "DEFAULT_CA_BUNDLE_PATH", cert)
    direct._tls_context.cache_clear()
    try:
        url = f"https://localhost:{server.server_address[1]}"
        http_ = lean_vendor(url)
        for size in (0, 300_000, 3, 300_000):
            assert len(http_.request("GET", f"/{size}").json()) == size + 1
        assert len(connections) == 1
    finally:
        direct._tls_context.cache_clear()
        server.shutdown()


def test_a_read_past_the_deadline_fails_even_when_the_answer_keeps_coming():
    # Given an answer's bytes always there to read (a vendor sending faster than it is read)
    ours, vendors_side = socket.socketpair()
    try:
        vendors_side.sendall(b"x" * 100)
        read_into = Channel(ours).reader(1.0, time.monotonic() + 0.05)
        buffer = memoryview(bytearray(10))
        assert read_into(buffer) == 10
        time.sleep(0.1)
        # Then a read once the deadline passed fails, though it would not have had to wait
        with pytest.raises(DeadlinePassed):
            read_into(buffer)
    finally:
        ours.close()
        vendors_side.close()


# A write's waits: bounded by the deadline and by the gap timeout, each on its own


@pytest.fixture
def unread():
    """A connected socket whose peer never reads, and the peer."""
    ours, peer = socket.socketpair()
    yield ours, peer
    ours.close()
    peer.close()


def test_a_write_never_read_ends_at_the_deadline_before_its_gap_timeout(unread):
    started = time.monotonic()
    with pytest.raises(TimeoutError):  # the wait the deadline cut short times out as the poll's
        Channel(unread[0]).write(b"x" * 50_000_000, 5.0, time.monotonic() + 0.3)
    assert 0.25 <= time.monotonic() - started < 1.0


def test_a_write_never_read_ends_at_its_gap_timeout_without_a_deadline(unread):
    outcome: list[BaseException] = []

    def write() -> None:
        try:
            Channel(unread[0]).write(b"x" * 50_000_000, 0.3, None)
        except BaseException as exc:
            outcome.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    started = time.monotonic()
    writer.start()
    writer.join(2.0)
    if writer.is_alive():  # still waiting: let it out (the peer's close makes the socket writable)
        unread[1].close()
        writer.join(2.0)
    assert len(outcome) == 1 and type(outcome[0]) is TimeoutError and time.monotonic() - started < 1.0


def test_a_write_after_the_deadline_sends_nothing(unread):
    with pytest.raises(DeadlinePassed):
        Channel(unread[0]).write(b"POST / HTTP/1.1\r\n\r\n", 5.0, time.monotonic() - 0.01)
    unread[1].setblocking(False)
    with pytest.raises(BlockingIOError):
        unread[1].recv(100)


def test_a_call_whose_request_is_never_read_ends_at_the_deadline_not_the_connect_timeout(serve):
    server = serve(lambda conn, s: time.sleep(3))  # accepts, never reads
    session = new_session(base_url=server.url)
    request = requests.Request("POST", server.url + "/rows", data="x" * 50_000_000).prepare()
    started = time.monotonic()
    with within(0.5), pytest.raises(requests.ReadTimeout):
        session.send(request, timeout=(5.0, 5.0))  # the write's gap (the connect timeout) is the longer
    assert time.monotonic() - started < 1.2


def test_a_call_outside_a_deadline_still_ends_at_its_read_timeout(serve):
    server = serve(lambda conn, s: s.read_request(conn) and time.sleep(3))  # reads, never answers
    session = new_session(base_url=server.url)
    request = requests.Request("POST", server.url + "/rows", json={"a": 1}).prepare()
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.send(request, timeout=(1.0, 0.3))
    assert time.monotonic() - started < 1.0


def test_a_call_outside_a_deadline_whose_request_is_never_read_ends_at_the_connect_timeout(serve):
    server = serve(lambda conn, s: time.sleep(3))  # accepts, never reads
    session = new_session(base_url=server.url)
    request = requests.Request("POST", server.url + "/rows", data="x" * 50_000_000).prepare()
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.send(request, timeout=(0.3, 5.0))
    assert time.monotonic() - started < 1.2


class WantsToWrite(socket.socket):
    """A socket whose first read finds TLS needing to send first (a renegotiation)."""

    wanted = False

    def recv_into(self, buffer, *args):
        if not self.wanted:
            self.wanted = True
            raise ssl.SSLWantWriteError()
        return super().recv_into(buffer, *args)


def test_a_read_that_tls_makes_wait_to_write_waits_and_reads():
    ours, vendors_side = socket.socketpair()
    wants = WantsToWrite(fileno=ours.detach())
    try:
        vendors_side.sendall(b"answer")
        read_into = Channel(wants).reader(1.0, None)
        buffer = memoryview(bytearray(10))
        assert read_into(buffer) == 6 and bytes(buffer[:6]) == b"answer" and wants.wanted
    finally:
        wants.close()
        vendors_side.close()


def test_a_write_the_peer_reads_slowly_ends_at_its_gap_timeout_in_all(unread):
    # Given a peer reading a little every 0.1 s (each wait for room well under the gap timeout)
    ours, peer = unread
    stop = threading.Event()

    def drain() -> None:
        peer.setblocking(False)
        while not stop.is_set():
            try:
                while peer.recv(1_000_000):  # all there is: room for the writer to wake to
                    pass
            except OSError:
                pass
            time.sleep(0.1)

    outcome: list[BaseException] = []

    def write() -> None:
        try:
            Channel(ours).write(b"x" * 50_000_000, 0.5, None)
        except BaseException as exc:
            outcome.append(exc)

    threads = [threading.Thread(target=drain, daemon=True), threading.Thread(target=write, daemon=True)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    threads[1].join(2.0)
    stop.set()
    # Then the write ends at 0.5 s in all, as sendall with a timeout of 0.5 s would
    assert len(outcome) == 1 and type(outcome[0]) is TimeoutError and time.monotonic() - started < 1.2
    threads[0].join(1.0)
