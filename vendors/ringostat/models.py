"""Ringostat's bodies and replies, as the two docs' tables give them.

Contracts: ../shared/vendor-docs/ringostat-power-dialer-campaign-rows.txt and
../shared/vendor-docs/ringostat-minicrm-contacts-sync.txt. One host and one pair of
headers serve both, so RingostatCredentials is shared.

minicrm: fields the doc calls required but nullable (staffId, the links, googleClientId,
organizations, and externalId/leadId) have no default, so a body always carries them,
null or not; externalId or leadId must be set.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

#: the longest `fio` Ringostat takes
FIO_MAX_CHARS = 255
MAX_TEXT_CHARS = 2000

_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WIRE = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True,
                   str_strip_whitespace=True)


class RingostatCredentials(BaseModel):
    """What the `Auth-key` and `x-project-id` headers carry."""

    auth_key: SecretStr
    project_id: str


class CampaignRow(BaseModel):
    """The documented body: one number per request, digits with country code."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    campaign_id: int = Field(alias="campaignId", gt=0)
    phone_number: str = Field(pattern=r"^\d{10,15}$")
    fio: str = Field(default="", max_length=FIO_MAX_CHARS)


class ResultReply(BaseModel):
    """Ringostat answers `{"result": true}`; anything else is a refusal."""

    result: bool


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
