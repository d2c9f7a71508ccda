"""A connected socket as the lean transport (vendors/direct.py) writes and reads it: non-blocking,
each wait a `poll` bounded by the call's gap timeout and what is left of its deadline.

A socket with a timeout costs CPython an ioctl for every `settimeout` (to shrink it to what is
left of a deadline) and a `poll` before every send and recv, each a system call that hands the
interpreter lock over. Non-blocking, a call's request is one send, and its answer one poll (the
answer is never there as the request leaves) and a recv for each part of it, a poll again only
when the next part has not come yet (BENCHMARKS.md, "Issue 11, fifth session: responses parsed
by httptools").
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable

from vendors.deadline import DeadlinePassed


class Channel:
    """`sock`, made non-blocking for good (after its connect and TLS handshake)."""

    __slots__ = ("sock", "_readable")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._readable = select.poll()  # poll, not select: a worker's descriptors may pass select's 1,024
        self._readable.register(sock, select.POLLIN)

    def dropped(self) -> bool:
        """An idle kept-alive connection is readable only when the server closed it (or sent what
        nobody asked for): either way it cannot carry a request (urllib3 checks the same way)."""
        try:
            return bool(self._readable.poll(0))
        except (OSError, ValueError):
            return True

    def write(self, data: bytes, gap_s: float | None, deadline: float | None) -> None:
        """Send all of `data` within `gap_s` in all (as `sendall` on a socket with a timeout) and
        by `deadline`."""
        _check(deadline)
        ends = None if gap_s is None else time.monotonic() + gap_s
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view):]
                continue
            except (BlockingIOError, ssl.SSLWantWriteError):
                event = select.POLLOUT
            except ssl.SSLWantReadError:  # TLS wants the peer's bytes first
                event = select.POLLIN
            _wait(_polling(self.sock, event), None if ends is None else max(ends - time.monotonic(), 0.0), deadline)

    def reader(self, gap_s: float | None, deadline: float | None) -> Callable[[memoryview], int]:
        """recv_into for one answer: each wait at most `gap_s` (the read timeout) and what is left
        until `deadline`, so an answer trickled a byte at a time still ends by the deadline."""
        sock, readable = self.sock, self._readable
        started = False

        def read_into(buffer: memoryview) -> int:
            nonlocal started
            if not started:  # the answer is not there yet as the request leaves: wait, then read
                started = True
                _wait(readable, gap_s, deadline)
            else:
                _check(deadline)
            while True:
                try:
                    return sock.recv_into(buffer)
                except (BlockingIOError, ssl.SSLWantReadError):  # not come yet (TLS: a record half come)
                    _wait(readable, gap_s, deadline)
                except ssl.SSLWantWriteError:  # TLS must send first (renegotiation): wait for room
                    _wait(_polling(sock, select.POLLOUT), gap_s, deadline)
        return read_into


def _polling(sock: socket.socket, event: int) -> select.poll:
    waiting = select.poll()
    waiting.register(sock, event)
    return waiting


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlinePassed("the call's deadline passed before its answer was complete")


def _wait(poll: select.poll, gap_s: float | None, deadline: float | None) -> None:
    """Until `poll` reports its socket ready; TimeoutError after `gap_s`, DeadlinePassed (a
    TimeoutError too) once the deadline is reached."""
    wait_s = gap_s
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed("the call's deadline passed before its answer was complete")
        wait_s = left if gap_s is None else min(gap_s, left)
    if not poll.poll(None if wait_s is None else wait_s * 1000):
        raise TimeoutError("timed out")


__all__ = ["Channel"]
