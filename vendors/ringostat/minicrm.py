"""Ringostat minicrm: contacts and organizations for the Smart Phone's contact book.

Contract: ../shared/vendor-docs/ringostat-minicrm-contacts-sync.txt
    POST /minicrm/contacts/sync        {"contacts": [Contact, ...]}
    POST /minicrm/organizations/sync   {"organizations": [Organization, ...]}
Same host and headers as the Power Dialer (`Auth-key`, `x-project-id`), so the same
`ringostat.base_url` setting and RingostatCredentials serve both.

The bodies and the reply are in models.py, with the Power Dialer's. The doc shows
no reply: any 2xx is success unless its body says `result: false` or lists `errors`.
Both operations are syncs (the vendor keeps the latest state of a contact), so sending
a batch again after an unknown outcome does no harm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from vendors import errors
from vendors.http import DEFAULT_TIMEOUT_S, VendorHttp, body_of

from .client import VENDOR, RingostatClient, ringostat_headers
from .models import Contact, ContactsSync, Organization, OrganizationsSync, RingostatCredentials, SyncReply

CONTACTS_SYNC_PATH = "/minicrm/contacts/sync"
ORGANIZATIONS_SYNC_PATH = "/minicrm/organizations/sync"


class MiniCrmClient:
    """Plain HTTP over a caller-owned session; no retries here (the task layer decides)."""

    def __init__(self, credentials: RingostatCredentials, *, base_url: str, session: requests.Session,
                 timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S) -> None:
        self._http = VendorHttp(VENDOR, base_url=base_url, session=session, headers=ringostat_headers(credentials),
                                timeout_s=timeout_s)

    def sync_contacts(self, contacts: Sequence[Contact]) -> SyncReply:
        body = ContactsSync(contacts=list(contacts))
        return self._post(CONTACTS_SYNC_PATH, body.model_dump(mode="json", by_alias=True), len(body.contacts))

    def sync_organizations(self, organizations: Sequence[Organization]) -> SyncReply:
        body = OrganizationsSync(organizations=list(organizations))
        return self._post(ORGANIZATIONS_SYNC_PATH, body.model_dump(mode="json", by_alias=True),
                          len(body.organizations))

    def _post(self, path: str, payload: dict[str, Any], count: int) -> SyncReply:
        response = self._http.request("POST", path, json=payload)
        body = body_of(response)
        if isinstance(body, dict) and (body.get("result") is False or body.get("errors")):
            raise errors.VendorRejected(f"sync refused: {str(body)[:300]}", vendor=VENDOR,
                                        status=response.status_code, body=body)
        extra = body if isinstance(body, dict) else {}
        return SyncReply.model_validate({**extra, "synced": count})


class RingostatApi(RingostatClient):
    """The Power Dialer client with the minicrm one beside it (`.minicrm`), over one session:
    what a worker builds for the `ringostat` vendor."""

    def __init__(self, credentials: RingostatCredentials, *, base_url: str, session: requests.Session,
                 timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(credentials, base_url=base_url, session=session, timeout_s=timeout_s)
        self.minicrm = MiniCrmClient(credentials, base_url=base_url, session=session, timeout_s=timeout_s)
