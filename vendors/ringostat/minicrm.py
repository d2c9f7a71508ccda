"""Ringostat minicrm: contacts and organizations for the Smart Phone's contact book.

Contract: ../shared/vendor-docs/ringostat-minicrm-contacts-sync.txt
    POST /minicrm/contacts/sync        {"contacts": [Contact, ...]}
    POST /minicrm/organizations/sync   {"organizations": [Organization, ...]}
Same host and headers as the Power Dialer (`Auth-key`, `x-project-id`), so the same
`ringostat.base_url` setting and RingostatCredentials serve both.

The models follow the doc's tables: fields the doc calls required but nullable (staffId,
the links, googleClientId, organizations, and externalId/leadId) have no default, so a
body always carries them, null or not; externalId or leadId must be set. The doc shows
no reply: any 2xx is success unless its body says `result: false` or lists `errors`.
Both operations are syncs (the vendor keeps the latest state of a contact), so sending
a batch again after an unknown outcome does no harm.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vendors import errors
from vendors.http import DEFAULT_TIMEOUT_S, VendorHttp, body_of

from .client import VENDOR, RingostatClient, RingostatCredentials, ringostat_headers

CONTACTS_SYNC_PATH = "/minicrm/contacts/sync"
ORGANIZATIONS_SYNC_PATH = "/minicrm/organizations/sync"
MAX_TEXT_CHARS = 2000

_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WIRE = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True,
                   str_strip_whitespace=True)


class ContactDirection(BaseModel):
    """A way to reach the contact: a phone number or an email address."""

    model_config = _WIRE

    type: Literal["phone", "email"]
    name: str = Field(min_length=1, max_length=255, description="work, personal, ...")
    value: str = Field(min_length=1, max_length=255)

    @model_validator(mode="after")
    def _value_fits_type(self) -> ContactDirection:
        if self.type == "phone":
            digits = sum(ch.isdigit() for ch in self.value)
            if not _PHONE_CHARS.match(self.value) or not 7 <= digits <= 15:
                raise ValueError(f"phone {self.value!r} is not one phone number (7-15 digits, optional +)")
        elif not _EMAIL.match(self.value):
            raise ValueError(f"email {self.value!r} is not an email address")
        return self


class Organization(BaseModel):
    """An organization the contact belongs to; every field is required."""

    model_config = _WIRE

    project_id: int = Field(alias="projectId", gt=0)
    name: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    external_id: str = Field(alias="externalId", min_length=1, max_length=255)
    origin: str = Field(min_length=1, max_length=255, description="the CRM's name")


class Contact(BaseModel):
    """One contact (or lead, or deal) of the CRM, as the doc's body table lists it."""

    model_config = _WIRE

    project_id: int = Field(alias="projectId", gt=0)
    full_name: str = Field(alias="fullName", min_length=1, max_length=255)
    origin: str = Field(min_length=1, max_length=255, description="the CRM's name")
    external_id: str | None = Field(alias="externalId", min_length=1, max_length=255)
    lead_id: str | None = Field(alias="leadId", min_length=1, max_length=255)
    responsible: str = Field(min_length=1, max_length=255, description="responsible employee's id in the CRM")
    staff_id: str | None = Field(alias="staffId", min_length=1, max_length=255)
    contact_link: str | None = Field(alias="contactLink", min_length=1, max_length=MAX_TEXT_CHARS)
    lead_link: str | None = Field(alias="leadLink", min_length=1, max_length=MAX_TEXT_CHARS)
    deal_link: str | None = Field(alias="dealLink", min_length=1, max_length=MAX_TEXT_CHARS)
    google_client_id: str | None = Field(alias="googleClientId", min_length=1, max_length=255)
    contact_directions: list[ContactDirection] = Field(alias="contactDirections", min_length=1)
    organizations: list[Organization] | None

    @model_validator(mode="after")
    def _identified(self) -> Contact:
        if self.external_id is None and self.lead_id is None:
            raise ValueError("externalId or leadId must be set (both are null)")
        return self


class ContactsSync(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contacts: list[Contact] = Field(min_length=1)


class OrganizationsSync(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    organizations: list[Organization] = Field(min_length=1)


class SyncReply(BaseModel):
    """The doc shows no reply; whatever the vendor adds is kept. `synced` is how many we sent."""

    model_config = ConfigDict(extra="allow")

    synced: int
    result: bool = True


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
