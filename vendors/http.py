"""The one place where HTTP responses and transport failures become vendor errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import requests
import urllib3

from vendors import deadline, direct, errors
from vendors.prepared import PreparedCalls
from vendors.redirects import CredentialSafeSession, after_redirect

#: (connect, read, total) seconds: connect and read bound one wait each (read: the longest
#: gap between two bytes of the answer); total bounds the whole call (see vendors.deadline).
#: A (connect, read) pair gets DEFAULT_TOTAL_S.
DEFAULT_TOTAL_S = 15.0
DEFAULT_TIMEOUT_S = (3.05, 10.0, DEFAULT_TOTAL_S)


def new_session(pool_size: int = 16, *, base_url: str | None = None) -> requests.Session:
    """A keep-alive session: one per worker thread or client, never shared across forks.

    requests reads proxy and netrc settings from the environment on every request (about a
    sixth of its cost per call here); they are read once, for `base_url`, instead. Its adapter
    sends over http.client rather than urllib3 where it can (vendors.direct).
    """
    session = CredentialSafeSession()  # credential headers never follow a redirect to another host
    if base_url:
        session.proxies = requests.utils.get_environ_proxies(base_url)
        session.trust_env = False
    # Its connections keep every call within its total deadline (vendors.deadline); a plain
    # request goes over http.client rather than urllib3 (vendors.direct).
    adapter = direct.DirectAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def send(
    session: requests.Session,
    vendor: str,
    method: str,
    url: str,
    *,
    timeout_s: tuple[float, ...] = DEFAULT_TIMEOUT_S,
    **kwargs: Any,
) -> requests.Response:
    """Send one request; transport failures come out as vendor errors, never as requests' own.

    The whole call, answer included, ends within the total timeout (or an earlier deadline
    set with `vendors.deadline.within`) on a session from `new_session`.
    """
    return within_deadline(vendor, timeout_s, lambda timeout: session.request(method, url, timeout=timeout, **kwargs))


def within_deadline(vendor: str, timeout_s: tuple[float, ...],
                    call: Callable[[tuple[float, float]], requests.Response]) -> requests.Response:
    """`call(timeout)` (a requests call, given its (connect, read) timeout) within the total
    timeout, its transport failures mapped onto vendor errors."""
    connect_s, read_s, *rest = timeout_s
    total_s = rest[0] if rest else DEFAULT_TOTAL_S
    with deadline.within(total_s):
        left = deadline.left_s()
        if left <= 0:
            raise errors.VendorConnectionError("no time left for this call; nothing was sent", vendor=vendor)
        try:
            return call((min(connect_s, left), read_s))
        except requests.RequestException as exc:
            connect_timeout = isinstance(exc, requests.ConnectTimeout)
            if connect_timeout or (isinstance(exc, requests.ConnectionError) and _never_connected(exc)):
                failure = f"{'connect timeout' if connect_timeout else 'connection failed'}: {exc}"
                if after_redirect(exc):  # the vendor answered the first request with a redirect
                    raise errors.OutcomeUnknown(f"redirected, then {failure}", vendor=vendor) from exc
                raise errors.VendorConnectionError(failure, vendor=vendor) from exc
            if deadline.left_s() <= 0:
                raise errors.VendorTimeout(f"no complete answer within {min(total_s, left):.1f} s", vendor=vendor) from exc
            if isinstance(exc, requests.Timeout):
                raise errors.VendorTimeout(f"no answer within {read_s} s", vendor=vendor) from exc
            if isinstance(exc, requests.ConnectionError):
                # The connection broke after the request went out: the vendor may have applied it.
                raise errors.OutcomeUnknown(f"connection lost before the answer: {exc}", vendor=vendor) from exc
            raise errors.OutcomeUnknown(f"request failed: {exc}", vendor=vendor) from exc


class VendorHttp:
    """One vendor's base URL over a caller-owned session, with the headers every call carries.

    What a client composes instead of repeating the plumbing: `send` sends (transport
    failures as vendor errors), `request` also maps a non-2xx answer (`raise_for_status`).
    """

    def __init__(self, vendor: str, *, base_url: str, session: requests.Session, headers: Mapping[str, str],
                 timeout_s: tuple[float, ...] = DEFAULT_TIMEOUT_S) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.headers = dict(headers)
        self.timeout_s = timeout_s
        self._calls = PreparedCalls(session, self.headers)  # a bulk row's call, prepared once per endpoint

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send to `base_url + path` with the default headers; the answer is not checked."""
        url = self.base_url + path
        return within_deadline(self.vendor, self.timeout_s,
                               lambda timeout: self._calls.request(method, url, timeout=timeout, **kwargs))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """`send`, then a non-2xx answer raised as a vendor error."""
        response = self.send(method, path, **kwargs)
        raise_for_status(response, self.vendor)
        return response


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when no connection was made (refused, DNS, connect timeout): nothing was sent."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                               urllib3.exceptions.NameResolutionError, direct.NeverConnected))


def body_of(response: requests.Response) -> Any:
    """The decoded JSON body, or the text when the vendor did not send JSON."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text[:2000]


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (the delta-seconds form; an HTTP date is not worth parsing here)."""
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def raise_for_status(response: requests.Response, vendor: str, message: str | None = None) -> None:
    """Map a non-2xx answer onto the hierarchy in vendors.errors."""
    status = response.status_code
    if status < 400:
        return
    body = body_of(response)
    kwargs = {"vendor": vendor, "body": body, "headers": dict(response.headers)}
    text = message or _message_of(body) or response.reason or "error"
    transient = errors.transient_for_status(status, text, retry_after_s=retry_after_s(response.headers), **kwargs)
    if transient is not None:
        raise transient
    if status in (401, 403):
        raise errors.AuthError(text, status=status, **kwargs)
    raise errors.ValidationError(text, status=status, **kwargs)


def _message_of(body: Any) -> str | None:
    """Pull a readable message out of the usual vendor error shapes."""
    if isinstance(body, str):
        return body[:300] or None
    if not isinstance(body, dict):
        return None
    for key in ("error", "message", "errors", "detail"):
        value = body.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value
        if value:
            return str(value)[:300]
    return None
