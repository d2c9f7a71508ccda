"""The lean transport: a prepared request sent over a kept-alive connection of its own.

One call through requests' HTTPAdapter and urllib3 costs ~1.4 M instructions, most of it in
urllib3's pool and response machinery. `DirectAdapter`, the `DeadlineAdapter` that
`vendors.http.new_session` mounts, sends a request this way when it can serve it exactly as
urllib3 would (`serves`), and through urllib3 (`DeadlineAdapter.send`) otherwise. The
connection is http.client's for connecting (TCP, TLS) only: the request's bytes are written in
one send and the answer parsed by httptools as it is read (vendors/wire.py), where
http.client's putheader, email header parser and socket files took ~150 Python calls a call,
over a non-blocking socket (vendors/channel.py; BENCHMARKS.md, "Issue 11, fifth session:
responses parsed by httptools"). Everything above the adapter (preparing,
`Session.send`'s cookies, redirects and hooks, `CredentialSafeSession`) is still requests' own
code, and the answer is still a `requests.Response` built by the adapter's own
`build_response` around a `urllib3.HTTPResponse` (same headers, decoding, cookies, `raw`).

Kept as urllib3 keeps it:
- the total deadline: as with `vendors.deadline_adapter.Bounded`, every write and read waits
  at most what is left of `vendors.deadline.within`; connect and read timeouts as given;
- `vendors.deadline.check_start()` before a connection is taken or made;
- failures come out as the exceptions requests raises for the same event (`_mapped`), so
  `vendors.http.within_deadline` classes them the same way: never connected (refused, name
  not resolved, connect timeout) as nothing sent, anything after as an unknown outcome;
- a kept-alive connection the server closed while idle is found before reuse and replaced;
- https verified as urllib3 verifies (its `create_urllib3_context`: the hostname checked against
  the subjectAltName, never the common name) against requests' CA bundle (certifi).

Connections: per adapter (so per session), a list of idle ones per (scheme, host, port, and
for https the CA bundle verified with), up to the adapter's pool_maxsize. A
connection is taken off the list for one exchange and put back after a complete answer, so
threads sharing a session never share a connection (list pop/append are atomic). A forked
child never uses its parent's idle connections.
"""

from __future__ import annotations

import functools
import http.client
import io
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import DEFAULT_CA_BUNDLE_PATH, select_proxy
from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3.util.ssl_ import ALPN_PROTOCOLS, create_urllib3_context

from vendors import wire
from vendors.channel import Channel
from vendors.deadline import check_start, current
from vendors.deadline_adapter import DeadlineAdapter

#: idle connections kept per (scheme, host, port), like the adapter's pool_maxsize
DEFAULT_MAX_IDLE = 16


class NeverConnected(OSError):
    """No connection was made (refused, name not resolved): nothing of the request was sent."""


#: bytes asked of the socket a read (a connection's buffer, reused for each of its answers)
READ_BYTES = 65_536


class _ChannelAndBuffer:
    """http.client's connection for its connect (TCP_NODELAY; for https the handshake with SNI
    and the hostname checked by the context) and close; the exchange is `_exchange`'s, over
    `channel` (the socket made non-blocking once connected)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffer = memoryview(bytearray(READ_BYTES))
        self.channel: Channel | None = None


class _HTTPConnection(_ChannelAndBuffer, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_ChannelAndBuffer, http.client.HTTPSConnection):
    pass


@functools.cache
def _tls_context(verify: bool | str) -> ssl.SSLContext | None:
    """What requests verifies https with: its CA bundle (certifi) for `verify=True`, or the CA
    bundle file or directory `verify` names; the context urllib3 makes (`create_urllib3_context`:
    the hostname checked against subjectAltName only, never a certificate's common name; its
    minimum TLS version and ciphers) and the ALPN it offers. None: verification off, or a path
    that is not there or holds no CA certificate (urllib3's path says so, or does without).
    Cached for the process's life, deliberately: a CA bundle rotated on disk is read on restart."""
    where = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    if not isinstance(where, str) or not os.path.exists(where):
        return None
    context = create_urllib3_context()  # CERT_REQUIRED, check_hostname, hostname_checks_common_name False
    try:
        if os.path.isdir(where):
            context.load_verify_locations(capath=where)
        else:
            context.load_verify_locations(cafile=where)
    except ssl.SSLError:  # not a CA bundle (empty, not PEM): urllib3 fails the call as requests' SSLError
        return None
    context.set_alpn_protocols(ALPN_PROTOCOLS)  # urllib3 sets it as it wraps each socket, not in the helper
    return context


def _origin(url: str) -> str:
    """A URL's scheme and host[:port], nothing after (a query may hold a signed token) nor before
    the host (user:password@)."""
    start = url.find("//") + 2
    end = url.find("/", start)  # a prepared URL always has a path ("/" at least)
    origin = url if end == -1 else url[:end]
    if "@" not in origin and "?" not in origin and "#" not in origin:
        return origin
    end = len(url)
    for sep in "/?#":
        at = url.find(sep, start)
        if at != -1 and at < end:
            end = at
    userinfo = url.rfind("@", start, end)
    return url[:end] if userinfo == -1 else url[:start] + url[userinfo + 1:end]


@functools.lru_cache(maxsize=256)
def _target(origin: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, Host header) of a URL's `_origin`: cached per vendor host, never per
    full URL. The Host header as http.client writes it: the port only when not the scheme's
    default, an IPv6 address in brackets."""
    parts = urlsplit(origin)
    scheme, host = parts.scheme, parts.hostname or ""
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    named = f"[{host}]" if ":" in host else host
    return scheme, host, port, named if port == default else f"{named}:{port}"


def serves(request: requests.PreparedRequest, *, stream: bool, timeout: Any, verify: Any, cert: Any,
           proxies: Any) -> bool:
    """True when this transport sends `request` exactly as urllib3 would: the whole answer read
    at once, timeouts as numbers, no client certificate, no proxy for the URL, a body in one
    piece (not a stream or file), and https verified against a CA bundle. Not HEAD: its answer
    says a body's length and has none, which llhttp (vendors.wire) cannot be told."""
    if stream or cert is not None or not isinstance(request.body, (bytes, str, type(None))):
        return False
    if request.method == "HEAD":
        return False
    if not isinstance(timeout, (tuple, int, float, type(None))) or (proxies and select_proxy(request.url, proxies)):
        return False
    url = request.url
    return url.startswith("http://") or (url.startswith("https://") and _tls_context(verify) is not None)


class DirectAdapter(DeadlineAdapter):
    """`DeadlineAdapter` sending what `serves` allows over its own connections (`DirectConnections`:
    http.client's connect, then vendors.channel and vendors.wire), over urllib3 the rest.
    Only with no retries at this level (`max_retries=0`, as `new_session` mounts it): urllib3
    would retry, this does not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct = DirectConnections(self._pool_maxsize)
        self._retries = self.max_retries.total != 0

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        if self._retries or not serves(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                       proxies=proxies):
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        answer, body = self._direct.send(request, timeout, verify)
        response = self.build_response(request, answer)
        if "content-encoding" not in answer.headers:  # nothing to decode: the body as read is the content
            response._content, response._content_consumed = body, True  # as `Response.content` leaves them
        return response

    def close(self) -> None:
        super().close()
        self._direct.close()


class DirectConnections:
    """The kept-alive connections of one adapter, and the exchange over them."""

    def __init__(self, max_idle: int = DEFAULT_MAX_IDLE) -> None:
        self._idle: dict[tuple[str, str, int, Any], list[http.client.HTTPConnection]] = {}
        self._max_idle = max_idle
        self._pid = os.getpid()  # the process the idle connections belong to

    def _forked(self) -> bool:
        """True (once) in a child forked since: its parent's idle connections are dropped, never
        used (two processes on one socket) nor closed as a connection (the parent still owns them;
        the child's copies of the descriptors go with garbage collection, the parent's stay open)."""
        if os.getpid() == self._pid:
            return False
        self._idle, self._pid = {}, os.getpid()
        return True

    def send(self, request: requests.PreparedRequest, timeout: Any, verify: Any) -> tuple[HTTPResponse, bytes]:
        """Send `request`; the answer as the urllib3 response requests builds from, and its body
        as read (before any content decoding)."""
        scheme, host, port, host_header = _target(_origin(request.url))
        path = request.path_url  # what HTTPAdapter.request_url sends: path and query, no fragment
        if path.startswith("//"):  # as request_url has it
            path = f"/{path.lstrip('/')}"
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body  # as urllib3 does
        # A request HTTP forbids (a header injected) fails here: no connection taken, nothing sent.
        data = wire.request_bytes(request.method, path, host_header, request.headers, body)
        connect_s, read_s = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        check_start()  # before a connection is taken or made, as vendors.deadline_adapter does
        key = (scheme, host, port, verify if scheme == "https" else None)  # a connection verified one way
        conn = self._take(request, key, connect_s)
        try:
            with _mapped(request, connected=True):
                answer = _exchange(conn, data, read_s)
        except BaseException:  # a half-used connection is never reused (a task's time limit too)
            conn.close()
            raise
        self._give_back(key, conn)
        return _urllib3_response(request, answer), answer.body

    def _take(self, request: requests.PreparedRequest, key: tuple[str, str, int, Any],
              connect_s: float | None) -> http.client.HTTPConnection:
        self._forked()
        idle = self._idle.get(key)
        while idle:
            try:
                conn = idle.pop()
            except IndexError:  # another thread took the last one
                break
            if conn.sock is not None and not conn.channel.dropped():
                conn.timeout = connect_s  # what a write may wait, as urllib3 has it
                return conn
            conn.close()
        scheme, host, port, verify = key
        conn = (_HTTPSConnection(host, port, timeout=connect_s, context=_tls_context(verify)) if scheme == "https"
                else _HTTPConnection(host, port, timeout=connect_s))
        try:
            with _mapped(request, connected=False):
                conn.connect()
                conn.channel = Channel(conn.sock)
        except BaseException:  # a socket half made (TLS failed, a task's time limit): closed, not leaked
            conn.close()
            raise
        return conn

    def _give_back(self, key: tuple[str, str, int, Any], conn: http.client.HTTPConnection) -> None:
        idle = self._idle.setdefault(key, [])
        # Threads giving back at once may each see room and leave a few over max_idle: harmless
        # (a few more idle sockets), and cheaper than a lock on every call.
        if conn.sock is not None and len(idle) < self._max_idle:  # None: the server said close
            idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        if self._forked():
            return
        for idle in list(self._idle.values()):
            while idle:
                idle.pop().close()


def _exchange(conn: http.client.HTTPConnection, data: bytes, read_s: float | None) -> wire.Answer:
    """Write the request in one write and read its answer, each wait bounded by the deadline; a
    connection that cannot carry another request after it (the vendor said close, or sent more
    than the answer) is closed."""
    deadline = current()
    conn.channel.write(data, conn.timeout, deadline)  # one system call, one TCP segment for a small request
    answer = wire.read_answer(conn.channel.reader(read_s, deadline), conn.buffer)
    if not answer.reusable:
        conn.close()
    return answer


class _CookieSource:
    """What requests reads an answer's cookies from (`original_response.msg.get_all`), standing
    for http.client's response; to urllib3 reading the body, one already read and closed."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.msg = http.client.HTTPMessage()
        for name, value in headers:
            self.msg[name] = value  # appended: every Set-Cookie kept

    def isclosed(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _urllib3_response(request: requests.PreparedRequest, answer: wire.Answer) -> HTTPResponse:
    """The answer as requests' `build_response` expects it: urllib3's own response class (its
    content decoding, `raw` as callers know it), its body already read, its repeated headers
    kept. A `_CookieSource` goes with it only when it sets a cookie: requests reads cookies from
    it, and reads nothing (not even the headers again) without it."""
    headers = HTTPHeaderDict(answer.headers)
    cookies = "set-cookie" in headers or "set-cookie2" in headers
    return HTTPResponse(body=io.BytesIO(answer.body), headers=headers, status=answer.status, version=answer.version,
                        reason=answer.reason, preload_content=False, decode_content=True,
                        original_response=_CookieSource(answer.headers) if cookies else None,
                        request_method=request.method, request_url=request.url)


@contextmanager
def _mapped(request: requests.PreparedRequest, *, connected: bool) -> Iterator[None]:
    """socket, TLS and vendors.wire failures as the requests exceptions urllib3's path ends in.

    Connecting: a timeout is ConnectTimeout, a TLS failure SSLError, anything else a
    ConnectionError around NeverConnected (vendors.http: nothing was sent). Once connected: a
    timeout (a socket's, or the deadline's) is ReadTimeout, a TLS failure SSLError, anything
    else (reset, closed, a malformed answer) ConnectionError: the request may have been applied.
    """
    try:
        yield
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise requests.exceptions.SSLError(exc, request=request) from exc
    except TimeoutError as exc:
        raise (requests.ReadTimeout if connected else requests.ConnectTimeout)(exc, request=request) from exc
    except (OSError, wire.Malformed) as exc:
        reason = exc if connected else NeverConnected(f"no connection made: {exc}")
        raise requests.ConnectionError(reason, request=request) from exc


__all__ = ["DEFAULT_MAX_IDLE", "DirectAdapter", "DirectConnections", "NeverConnected", "serves"]
