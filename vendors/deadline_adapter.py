"""The connections that keep a call's deadline (vendors/deadline.py's `within`).

requests' read timeout is the longest gap between two bytes: a vendor (or a proxy) that
trickles a byte a second holds a call for ever. Timeout(total=...) in urllib3 does not help
either, as it only caps the socket timeout once, before the answer is read. Here every
socket read and write of a call first shrinks the socket's timeout to what is left until
the call's deadline, and gives up once nothing is left: the call ends by its deadline
whatever the vendor sends, and the caller sees a timeout (an unknown outcome). The first
request made inside `start_by(at)` is checked as it reaches the connection pool, after all
the work of making it and before any connection is taken or made.
`vendors.http.new_session` mounts `vendors.direct.DirectAdapter`, a `DeadlineAdapter` that
sends most calls over its own connections, each write and read bounded the same way, the rest here.
"""

from __future__ import annotations

import http.client
import io
import socket
import time

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from vendors.deadline import DeadlinePassed, check_start, current, left_s


def _shrink_timeout(sock: socket.socket | None, gap_s: float | None) -> None:
    """Let the next socket operation wait no longer than the deadline allows."""
    left = left_s()
    if left is None or sock is None:
        return
    if left <= 0:
        raise DeadlinePassed("the call's deadline passed")
    sock.settimeout(left if gap_s is None else min(gap_s, left))


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads it, each read bounded by the deadline of the call."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._gap_s = sock.gettimeout()  # the read timeout urllib3 set for this answer

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed("the call's deadline passed before its answer was complete")
        self._sock.settimeout(left if self._gap_s is None else min(self._gap_s, left))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock, *args, **kwargs) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = current()
        if deadline is not None:
            # The status line, headers and body are all read through this (the body later, in
            # requests' Response.content, still inside the caller's `within`).
            self.fp.close()
            self.fp = io.BufferedReader(_DeadlineReader(sock, deadline))


class Bounded:
    """A connection class's mixin: every write waits at most what is left of the call's deadline,
    and its answer is read through `_DeadlineResponse` (each read bounded the same way). Mixed
    into urllib3's connection classes (vendors/direct.py bounds its own reads and writes alike)."""

    response_class = _DeadlineResponse

    def send(self, data) -> None:  # http.client sends the request line, headers and body through here
        _shrink_timeout(self.sock, self.timeout if isinstance(self.timeout, (int, float)) else None)
        super().send(data)


class DeadlineHTTPConnection(Bounded, HTTPConnection):
    pass


class DeadlineHTTPSConnection(Bounded, HTTPSConnection):
    pass


class _StartChecked:
    def urlopen(self, *args, **kwargs):
        # Before a connection is taken (or made): a request whose time to start passed goes
        # out not at all, and no kept-alive connection is spent on it; a new connection's
        # handshake (TLS: a round trip or two) is not the request being made late.
        check_start()
        return super().urlopen(*args, **kwargs)


class _HTTPPool(_StartChecked, HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class _HTTPSPool(_StartChecked, HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections honour `within()` (plain and HTTP(S)-proxied)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager


__all__ = ["Bounded", "DeadlineAdapter"]
