"""Credentials never follow a redirect to another host.

requests drops `Authorization` when a redirect leaves the host, but keeps every other header
it was given: Ringostat's `Auth-key` and `x-project-id`, SalesScriptPrompter's `Key`,
Obzvonilka's api key header would all reach whatever host a `Location` names. This session
strips them (and every header listed in `credential_headers`) on such a redirect.

A request sent after a redirect is marked (`after_redirect`): once the vendor has answered with a
redirect, the call reached it, so a failure to connect to the redirect's target is not "nothing
sent" (vendors.http.within_deadline), however it looks on the last hop.
"""

from __future__ import annotations

import requests

#: lower-case header names that carry a vendor credential
CREDENTIAL_HEADERS = frozenset({"auth-key", "x-project-id", "key", "x-api-key", "api-key", "api_key", "authorization"})


#: set on a PreparedRequest that follows a redirect (requests' exceptions carry it as `.request`)
_AFTER_REDIRECT = "_telequeue_after_redirect"


def after_redirect(exc: requests.RequestException) -> bool:
    """True when the request that failed followed a redirect: an earlier one of the same call
    reached the vendor, so the call's outcome is unknown whatever this one's failure."""
    return getattr(exc.request, _AFTER_REDIRECT, False)


class CredentialSafeSession(requests.Session):
    credential_headers: frozenset[str] = CREDENTIAL_HEADERS

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        # requests calls this for every redirect it follows, on the next hop's own request
        setattr(prepared_request, _AFTER_REDIRECT, True)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in [name for name in prepared_request.headers if name.lower() in self.credential_headers]:
                del prepared_request.headers[name]
        super().rebuild_auth(prepared_request, response)


__all__ = ["CREDENTIAL_HEADERS", "CredentialSafeSession", "after_redirect"]
