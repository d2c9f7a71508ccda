"""HTTP/1.1 on the wire for the lean transport (vendors/direct.py): a request's bytes, and its
answer parsed by httptools (llhttp, the parser Node.js uses) as it is read off the socket.

http.client did both at ~150 Python calls a call (its `email` header parser alone 92); here a
request is one string checked by one regular expression, and an answer is a few callbacks from
C. What http.client checked is checked here too, a little more strictly: no control character
in the method, path, header names or values (no header injection), a head of at most
`MAX_HEAD_BYTES` and `MAX_HEADERS`, a body of at most `MAX_BODY_BYTES`; an answer that is not
HTTP/1.0 or 1.1, or ends before it is complete, is `Malformed`. A chunked answer's trailers are
dropped, as http.client and urllib3 drop them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

#: a head (status line and headers, informational answers before it included), or a run of bytes
#: without a body byte after it (chunk framing, trailers), longer than this is refused as soon as
#: one byte over it is read (no read asks for more), so a hostile vendor cannot make a worker hold
#: unbounded headers (http.client: 65,536 bytes a line, 100 headers)
MAX_HEAD_BYTES = 65_536
MAX_HEADERS = 100
#: an answer body longer than this (as declared, or as it comes) is refused: a worker holds the
#: whole body (and a joined copy), so a vendor cannot make it hold more (urllib3 had no cap)
MAX_BODY_BYTES = 16 * 1024 * 1024

#: methods whose request without a body still says Content-Length: 0 (as http.client does)
_EXPECTING_BODY = frozenset({"PATCH", "POST", "PUT"})

#: a request line and its headers, nothing else: method and path in printable ASCII (no space,
#: control character, or a character beyond ASCII, which http.client refused too), header names as RFC 9110 tokens, values without a control character but tab (so no
#: CR or LF, which would start a header or a request of the caller's choosing)
_HEAD = re.compile(r"[!-~]+ [!-~]+ HTTP/1\.1"
                   r"(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\x00-\x08\x0a-\x1f\x7f]*)*")


class Malformed(Exception):
    """The answer is not one HTTP/1.x answer, or ended (or grew) before it was complete."""


def request_bytes(method: str, path: str, host: str, headers: Mapping[str, str | bytes],
                  body: bytes | None) -> bytes:
    """The request as http.client would write it: request line; Host (`host`) and
    `Accept-Encoding: identity` unless given; Content-Length unless given (or Transfer-Encoding);
    the headers in their order; the body. ValueError (nothing to send) for a request line or
    header HTTP forbids, or a header beyond latin-1 (http.client's UnicodeEncodeError held the
    whole head, credentials included)."""
    given = {name.lower() for name in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    if "host" not in given:
        lines.append(f"Host: {host}")
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: identity")
    if "content-length" not in given and "transfer-encoding" not in given:
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif method.upper() in _EXPECTING_BODY:
            lines.append("Content-Length: 0")
    for name, value in headers.items():
        lines.append(f"{name}: {value.decode('latin-1') if isinstance(value, bytes) else value}")
    head = "\r\n".join(lines)
    # One line a header (a CR LF inside one would look like a header of its own to the pattern),
    # and each as HTTP allows. The offending value is not named: it may be a credential.
    if head.count("\n") != len(lines) - 1 or _HEAD.fullmatch(head) is None:
        raise ValueError("the request line or a header holds a character HTTP forbids there "
                         "(a control character, CR or LF, or a name that is not a token)")
    try:
        data = (head + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:  # its `object` is the whole head (credentials, a signed query):
        data = None  # raised outside the handler, so not even as the new error's __context__
    if data is None:
        raise ValueError("a header value holds a character beyond latin-1")
    return data + body if body else data


class Answer:
    """An answer read whole: `reusable` when the connection may carry another request."""

    __slots__ = ("status", "reason", "version", "headers", "body", "reusable")

    def __init__(self, status: int, reason: str, version: int, headers: list[tuple[str, str]], body: bytes,
                 reusable: bool) -> None:
        self.status, self.reason, self.version = status, reason, version
        self.headers, self.body, self.reusable = headers, body, reusable


def read_answer(read_into: Callable[[memoryview], int], buffer: memoryview) -> Answer:
    """Read one answer through `read_into(buffer)` (a socket's recv_into: 0 at end of file)."""
    reading = _Reading()
    parser = HttpResponseParser(reading)
    reading.parser = parser
    try:
        bare = 0  # bytes read since the last body byte (the head, chunk framing, trailers): capped
        while not reading.complete:
            room = MAX_HEAD_BYTES + 1 - bare  # no more read than takes a head to one byte over the cap
            count = read_into(buffer if room >= len(buffer) else buffer[:room])
            if not count:
                reading.end_of_file()
                break
            if not reading.protocol_seen:
                reading.check_protocol(buffer[:count])
            body_before = reading.body_bytes
            try:
                parser.feed_data(buffer[:count])
            except (HttpParserError, HttpParserUpgrade) as exc:
                raised = exc.__context__  # what a callback below raised, httptools wrapping it
                if raised is not None and not isinstance(raised, _Extra):  # Malformed, or a signal's
                    raise raised from None  # exception (KeyboardInterrupt, a task's time limit): as it is
                if not reading.complete:
                    raise Malformed(f"not an HTTP answer: {exc}") from None
                reading.keep_alive = False  # bytes after the answer: the connection is out of step
            # A read holding body bytes restarts the count (its bytes besides the body are at most
            # one read); one without adds to it: a head, a chunk-size line or trailers that never end.
            bare = count - (reading.body_bytes - body_before) if reading.body_bytes != body_before else bare + count
            if bare > MAX_HEAD_BYTES and not reading.complete:
                raise Malformed(f"an answer's head or trailers longer than {MAX_HEAD_BYTES} bytes")
    finally:
        reading.parser = None  # the parser holds the reading's methods: no cycle left to the collector
    return reading.answer()


class _Extra(Exception):
    """Bytes after the answer: the start of a second one nobody asked for."""


class _Reading:
    """httptools' callbacks: one answer's parts, informational (1xx) answers before it skipped."""

    def __init__(self) -> None:
        self.parser: HttpResponseParser | None = None
        self.complete = self.head_done = self.keep_alive = self.protocol_seen = False
        self._lead = b""
        self._start()

    def check_protocol(self, data: memoryview) -> None:
        """Malformed unless the answer starts (after any CR LF) with "HTTP/1.": llhttp also takes
        RTSP/1.0 and ICE/1.0 answers, and reports them as HTTP/1.0."""
        if data[:7] == b"HTTP/1." and not self._lead:  # the answer's first read, nearly always
            self.protocol_seen = True
            return
        self._lead = (self._lead + bytes(data)).lstrip(b"\r\n")[:7]
        if not b"HTTP/1.".startswith(self._lead[:7]):
            raise Malformed("not an HTTP/1.x answer")
        self.protocol_seen = len(self._lead) == 7

    def _start(self) -> None:
        self.status, self.reason, self.version = 0, b"", 11
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.head_done = False

    def on_message_begin(self) -> None:
        if self.complete:
            raise _Extra()  # stops the parser: nothing of a second answer is taken for this one

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:  # a chunked answer's trailers: dropped, as http.client and urllib3 drop them
            return  # (they could set a cookie or a Content-Encoding the answer never had)
        if len(self.headers) == MAX_HEADERS:
            raise Malformed(f"an answer with more than {MAX_HEADERS} headers")
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.status, version = self.parser.get_status_code(), self.parser.get_http_version()
        if version not in ("1.0", "1.1") or self.status < 100:  # llhttp takes HTTP/2.0, 0.9 and 099
            raise Malformed(f"not an HTTP/1.x answer: version {version}, status {self.status}")
        self.version = 10 if version == "1.0" else 11
        if self.status >= 200 and self.status not in (204, 304):  # (their Content-Length says no body's)
            for name, value in self.headers:  # llhttp checked it: digits, one value
                if len(name) == 14 and name.lower() == "content-length" and int(value) > MAX_BODY_BYTES:
                    raise Malformed(f"an answer body declared longer than {MAX_BODY_BYTES} bytes")

    def on_body(self, data: bytes) -> None:
        self.body_bytes += len(data)
        if self.body_bytes > MAX_BODY_BYTES:
            raise Malformed(f"an answer body longer than {MAX_BODY_BYTES} bytes")
        self.body.append(data)

    def on_message_complete(self) -> None:
        if self.status < 200:  # 100 Continue, 102, 103: the answer comes after (101 fails as an upgrade)
            self._start()
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()

    def end_of_file(self) -> None:
        """The vendor closed: complete only for an answer whose body runs until the close."""
        names = {name.lower() for name, _ in self.headers}
        if not self.head_done or "content-length" in names or "transfer-encoding" in names:
            raise Malformed("the connection closed before the answer was complete")
        self.complete, self.keep_alive = True, False

    def answer(self) -> Answer:
        return Answer(self.status, self.reason.decode("latin-1").strip(), self.version, self.headers,
                      b"".join(self.body), self.keep_alive)


__all__ = ["MAX_BODY_BYTES", "MAX_HEADERS", "MAX_HEAD_BYTES", "Answer", "Malformed", "read_answer", "request_bytes"]
