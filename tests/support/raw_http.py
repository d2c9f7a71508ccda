"""A loopback TCP server whose every connection is handled by a test's function: for what a
well-behaved HTTP server never does (close a kept-alive connection, hang, break mid-answer),
and to see the exact bytes a client sends."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"result\": true}"


class RawServer:
    """`handle(conn, server)` runs in its own thread for each connection accepted."""

    def __init__(self, handle: Callable[[socket.socket, RawServer], None]) -> None:
        self.connections = 0
        self.received: list[bytes] = []  # each request read with `read_request`
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._handle = handle
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self._handle(conn, self)
        except OSError:
            pass

    def read_request(self, conn: socket.socket) -> bytes | None:
        """One request's bytes (head and a Content-Length body), None when the client closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        self.received.append(data[:len(head) + 4] + body)
        return self.received[-1]

    def close(self) -> None:
        self._listener.close()
        for conn in self._open:
            conn.close()


def answer_each(answer: bytes = OK) -> Callable[[socket.socket, RawServer], None]:
    """A keep-alive server: `answer` to every request on the connection."""
    def handle(conn: socket.socket, server: RawServer) -> None:
        while server.read_request(conn) is not None:
            conn.sendall(answer)
    return handle


#: what a test's vendor client sends with every call (a credential header among them)
LEAN_HEADERS = {"Auth-key": "k-123", "Content-Type": "application/json"}


def lean_vendor(url: str, timeout_s: tuple[float, ...] = (1.0, 1.0, 5.0)):
    """A VendorHttp to `url` over a session from new_session (the lean transport)."""
    from vendors.http import VendorHttp, new_session  # the server side above needs no client
    return VendorHttp("test", base_url=url, session=new_session(base_url=url), headers=LEAN_HEADERS,
                      timeout_s=timeout_s)
