"""Obzvonilka tasks: every operation of the REST API, and the chunk of a contacts upsert job.

Payloads carry ids and contact fields, never the API key: `account` names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from celery import shared_task
from pydantic import Field

from vendors import deadline
from vendors.errors import VendorConnectionError
from vendors.obzvonilka import VENDOR, ContactFields

from tasks.chunk_runner import JobRow
from tasks.chunk_task import ChunkPayload, ChunkTask, run_chunk
from tasks import reconcile
from tasks.operations import OperationPayload, operation
from tasks.runtime import Limiter, current

if TYPE_CHECKING:  # the client (requests) is the worker's: a load imports this module for its chunk payload
    from vendors.obzvonilka import ObzvonilkaClient

UPSERT_CHUNK = "obzvonilka.contacts.upsert_chunk"

Id = Field(gt=0)


class ContactBasesListPayload(OperationPayload):
    """List the contact bases (GET /api/contact_bases.json)."""


class ContactBaseGetPayload(OperationPayload):
    """One contact base by id (GET /api/contact_bases/1.json)."""

    base_id: int = Id


class ContactsListPayload(OperationPayload):
    """Every contact of a base (GET /api/contact_bases/1/contacts.json)."""

    base_id: int = Id


class ContactGetPayload(OperationPayload):
    """One contact (GET /api/contact_bases/1/contacts/1.json)."""

    base_id: int = Id
    contact_id: int = Id


class ContactFindPayload(OperationPayload):
    """The contact with this external code, or null (GET .../contacts/find_by_external/code.json)."""

    base_id: int = Id
    external_code: str = Field(min_length=1, max_length=255)


class ContactCreatePayload(OperationPayload):
    """Add a contact to a base (POST .../contacts.json, form fields contact[name], contact[phone1], ...)."""

    base_id: int = Id
    contact: ContactFields


class ContactUpdatePayload(OperationPayload):
    """Change the given fields of a contact (PATCH .../contacts/1.json); fields left out stay."""

    base_id: int = Id
    contact_id: int = Id
    contact: ContactFields


class UsersListPayload(OperationPayload):
    """The users of the key's organization (GET /api/users.json)."""


class UserGetPayload(OperationPayload):
    """One user (GET /api/users/1.json)."""

    user_id: int = Id


class UpsertChunkPayload(ChunkPayload):
    """Payload of `obzvonilka.contacts.upsert_chunk`: rows as [line, external_code, phone, name, extra fields]."""

    base_id: int = Id


list_contact_bases = operation("obzvonilka.contact_bases.list", ContactBasesListPayload,
                               lambda client, p: client.list_contact_bases(), idempotent=True)
get_contact_base = operation("obzvonilka.contact_bases.get", ContactBaseGetPayload,
                             lambda client, p: client.get_contact_base(p.base_id), idempotent=True)
list_contacts = operation("obzvonilka.contacts.list", ContactsListPayload,
                          lambda client, p: client.list_contacts(p.base_id), idempotent=True)
get_contact = operation("obzvonilka.contacts.get", ContactGetPayload,
                        lambda client, p: client.get_contact(p.base_id, p.contact_id), idempotent=True)
find_contact = operation("obzvonilka.contacts.find_by_external_code", ContactFindPayload,
                         lambda client, p: client.find_contact_by_external_code(p.base_id, p.external_code),
                         idempotent=True)
create_contact = operation("obzvonilka.contacts.create", ContactCreatePayload,
                           lambda client, p: client.create_contact(p.base_id, p.contact),
                           idempotent=False, reconcile=reconcile.OBZVONILKA_CONTACT)
update_contact = operation("obzvonilka.contacts.update", ContactUpdatePayload,
                           lambda client, p: client.update_contact(p.base_id, p.contact_id, p.contact), idempotent=True)
list_users = operation("obzvonilka.users.list", UsersListPayload, lambda client, p: client.list_users(),
                       idempotent=True)
get_user = operation("obzvonilka.users.get", UserGetPayload, lambda client, p: client.get_user(p.user_id),
                     idempotent=True)


@shared_task(bind=True, base=ChunkTask, name=UPSERT_CHUNK, ignore_result=True)
def upsert_contacts_chunk(self: ChunkTask, **payload: Any) -> dict[str, int]:
    chunk = self.parse(UpsertChunkPayload, payload)
    runtime = current()
    limiter = runtime.limiter(VENDOR, chunk.account)
    # Both requests' slots are reserved before the row is claimed (its lease covers the wait for them).
    return run_chunk(UPSERT_CHUNK, VENDOR, chunk, to_row=upsert_row, limiter=limiter, slots_per_send=2,
                     send=lambda row: upsert_contact(runtime.client(VENDOR, chunk.account), limiter, chunk.base_id,
                                                     row))


def upsert_contact(client: ObzvonilkaClient, limiter: Limiter, base_id: int, row: JobRow) -> None:
    """One row = find by external code, then PATCH the contact found or POST a new one.

    Two HTTP calls, each with its own limiter slot, so an account's rate_per_s stays the
    vendor's requests per second whatever mixes on it: the chunk runner reserves both slots
    before it claims the row (reserve(2): two slots, one due time each) and sends the find in the first; the write
    waits here for the second (kept for this sender thread). When that slot passed while the
    find was answered (a slow vendor, a busy worker) or a 429 since asks for quiet, the write
    waits for a new slot instead, within the send's time: the find still holds, as this
    sender has the row claimed, and finding again would cost the vendor a request. A
    retried row finds again, so a create whose answer was lost (timeout) becomes an update,
    not a second contact.
    """
    fields = row.fields
    found = client.find_contact_by_external_code(base_id, fields["external_code"])
    if not limiter.take_reserved() and not limiter.acquire(should_stop=_out_of_time):
        # Transient and not sent: the runner releases the row and tries it again.
        raise VendorConnectionError("no rate limiter slot for the write; nothing was sent", vendor=VENDOR)
    if found is None:
        client.create_contact(base_id, contact_fields(fields, with_code=True))
    else:
        client.update_contact(base_id, found.id, contact_fields(fields, with_code=False))


def _out_of_time() -> bool:
    """The send's time (vendors.deadline.within, set by the chunk runner) is over."""
    left = deadline.left_s()
    return left is not None and left <= 0


def contact_fields(fields: dict[str, str], *, with_code: bool) -> ContactFields:
    """Empty cells are not sent: an update never blanks what the vendor already holds."""
    values = {("phone1" if name == "phone" else name): value for name, value in fields.items() if value}
    if not with_code:
        values.pop("external_code", None)
    return ContactFields(**values)


@dataclass(frozen=True, slots=True)
class UpsertRow:
    """One row of a contacts upsert as it travels in a chunk: the producer (workers.jobs.kinds.
    obzvonilka_contacts) encodes it with to_wire, the chunk task decodes it with from_wire."""

    #: the fields a report shows of a row, failed or rejected (workers.jobs.kinds.obzvonilka_contacts)
    REPORT_FIELDS = ("external_code", "phone", "name")

    line: int
    external_code: str
    phone: str  #: normalised: country code + digits
    name: str
    extra: dict[str, str]

    def to_wire(self) -> list:
        return [self.line, self.external_code, self.phone, self.name, self.extra]

    @classmethod
    def from_wire(cls, wire: list) -> UpsertRow:
        line, external_code, phone, name, extra = wire
        return cls(line, external_code, phone, name, extra)

    def fields(self) -> dict[str, str]:
        """By name: what the send reads (the extra fields too) and, for a failed row, the report shows."""
        return {**{name: getattr(self, name) for name in self.REPORT_FIELDS}, **self.extra}


def upsert_row(wire: list) -> JobRow:
    row = UpsertRow.from_wire(wire)
    return JobRow(row.line, row.fields(), wire)
