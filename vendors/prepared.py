"""A vendor client's requests prepared once per method and URL, each call adding only its body,
and sent through the session's own adapter.

`requests.Session.request` prepares every call from scratch: it merges the session's headers,
cookies, auth and hooks into a new request, parses and re-quotes the URL and looks up the
environment's proxy settings. For a bulk row that is about 200 µs of CPU per call, a sixth of
the worker's CPU per row (against the sandbox: 730 µs a call that way, 520 µs this way). A
client's calls to one endpoint differ only in their body, so the request is prepared once and
each call sends a copy with its own body.

`Session.send` then picks the adapter, runs the response hooks, copies the answer's cookies
into the session's jar and runs the redirect generator: for an answer that is no redirect and
sets no cookie, on a session with no hooks, none of that does anything but cost CPU (3.5 % of
a call's instructions against the sandbox, 1.50 M -> 1.44 M under callgrind; requests' own
frames in a worker's profile: -45 %). So a call goes to the adapter `Session.send` would pick (vendors.deadline's total
deadline, the same Response), and only an answer that is a redirect or sets a cookie goes on
through requests' own code for the rest of `Session.send` (`finish_like_send`: the cookies
into the jar, `Session.resolve_redirects`, which runs the session's `rebuild_auth`, so
vendors.redirects still strips credentials on a redirect to another host). Exceptions are
the adapter's, as `Session.send` raises them. A call this cannot serve the same way (query
params, files, a session holding cookies or auth, or one whose `request` is its own, e.g. a
test's fake) goes through `Session.request`; a session whose `send` is its own, or that has
response hooks, gets the prepared request through `Session.send`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.cookies import extract_cookies_to_jar
from requests.sessions import preferred_clock

#: the keyword arguments a prepared call takes; any other goes through Session.request
PREPARED_KWARGS = frozenset({"json", "data", "allow_redirects"})
#: answer headers Session.send copies into the session's cookie jar (http.cookiejar reads both)
COOKIE_HEADERS = ("Set-Cookie", "Set-Cookie2")


class PreparedCalls:
    """Calls of one client over its session, with the headers every call carries."""

    def __init__(self, session: requests.Session, headers: Mapping[str, str]) -> None:
        self.session = session
        self.headers = dict(headers)
        self._plain = type(session).request is requests.Session.request  # not a wrapper or a fake
        #: Session.send is requests' own, so its adapter may be called directly (hooks aside)
        self._plain_send = type(session).send is requests.Session.send
        #: (method, url) -> (the prepared request without a body, Session.send's settings, the adapter)
        self._templates: dict[tuple[str, str], tuple[requests.PreparedRequest, dict[str, Any], BaseAdapter]] = {}

    def request(self, method: str, url: str, *, timeout: Any, **kwargs: Any) -> requests.Response:
        session = self.session
        if not (self._plain and PREPARED_KWARGS.issuperset(kwargs)) or session.cookies or session.auth is not None:
            return session.request(method, url, headers=self.headers, timeout=timeout, **kwargs)
        template, settings, adapter = self._template(method, url)
        prepared = template.copy()
        prepared.prepare_body(kwargs.get("data"), None, kwargs.get("json"))
        allow_redirects = kwargs.get("allow_redirects", True)
        if not self._plain_send or any(prepared.hooks.values()):
            return session.send(prepared, timeout=timeout, allow_redirects=allow_redirects, **settings)
        return send_through(session, adapter, prepared, allow_redirects=allow_redirects, timeout=timeout, **settings)

    def _template(self, method: str, url: str) -> tuple[requests.PreparedRequest, dict[str, Any], BaseAdapter]:
        key = (method, url)
        if key not in self._templates:
            session = self.session
            template = session.prepare_request(requests.Request(method, url, headers=self.headers))
            settings = session.merge_environment_settings(template.url, {}, None, None, None)
            self._templates[key] = (template, settings, session.get_adapter(template.url))
        return self._templates[key]


def send_through(session: requests.Session, adapter: BaseAdapter, request: requests.PreparedRequest, *,
                 allow_redirects: bool, **kwargs: Any) -> requests.Response:
    """`session.send(request, **kwargs)` for a session with no response hooks, through
    `adapter` (the one the session mounts for the request's URL): what Session.send adds to
    the adapter's answer is only done when the answer is a redirect or sets a cookie.
    `kwargs`: timeout, stream, verify, cert, proxies (Session.send's settings)."""
    start = preferred_clock()
    response = adapter.send(request, **kwargs)
    response.elapsed = timedelta(seconds=preferred_clock() - start)
    if response.is_redirect or any(name in response.headers for name in COOKIE_HEADERS):
        return finish_like_send(session, request, response, allow_redirects=allow_redirects, **kwargs)
    if not kwargs.get("stream"):
        response.content  # noqa: B018 - read the body now, as Session.send does
    return response


def finish_like_send(session: requests.Session, request: requests.PreparedRequest, response: requests.Response, *,
                     allow_redirects: bool, **kwargs: Any) -> requests.Response:
    """What requests' `Session.send` (2.32-2.34) does after the adapter answered, for a
    session with no response hooks: the cookies into the session's jar, and the redirects
    followed through the session (`resolve_redirects`: its `rebuild_auth` strips credentials
    on a redirect to another host) or, when not followed, kept as `response.next`."""
    extract_cookies_to_jar(session.cookies, request, response.raw)
    if allow_redirects:
        history = list(session.resolve_redirects(response, request, **kwargs))
        if history:
            history.insert(0, response)
            response = history.pop()
            response.history = history
    else:
        try:
            response._next = next(session.resolve_redirects(response, request, yield_requests=True, **kwargs))
        except StopIteration:
            pass
    if not kwargs.get("stream"):
        response.content  # noqa: B018
    return response


__all__ = ["PREPARED_KWARGS", "PreparedCalls", "finish_like_send", "send_through"]
