"""Credentials never follow a redirect to another host.

requests drops `Authorization` when a redirect leaves the host, but keeps every other header
it was given: Ringostat's `Auth-key` and `x-project-id`, SalesScriptPrompter's `Key`,
Obzvonilka's api key header would all reach whatever host a `Location` names. This session
strips them (and every header listed in `credential_headers`) on such a redirect.
"""

from __future__ import annotations

import requests

#: lower-case header names that carry a vendor credential
CREDENTIAL_HEADERS = frozenset({"auth-key", "x-project-id", "key", "x-api-key", "api-key", "api_key", "authorization"})


class CredentialSafeSession(requests.Session):
    credential_headers: frozenset[str] = CREDENTIAL_HEADERS

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in [name for name in prepared_request.headers if name.lower() in self.credential_headers]:
                del prepared_request.headers[name]
        super().rebuild_auth(prepared_request, response)
