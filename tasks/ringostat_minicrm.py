"""Ringostat minicrm tasks: contacts sync, organizations sync, and a chunk of a contacts job.

The minicrm takes a list of contacts per request, so a contacts job's chunk is sent in
batches (tasks.chunk_runner.ChunkRunner with a batch_size): one request and one limiter slot
per batch, the ledger still per contact. Contacts and Power Dialer rows share the account's limiter: one
Ringostat project, one limit.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from pydantic import Field

from tasks.chunk_runner import JobRow
from tasks.chunk_task import ChunkPayload, ChunkTask, run_chunk
from tasks.operations import OperationPayload, operation
from tasks.runtime import current
from vendors.ringostat import Contact, Organization

VENDOR = "ringostat"
SYNC_CONTACTS = "ringostat.contacts.sync"
SYNC_ORGANIZATIONS = "ringostat.organizations.sync"
SYNC_CONTACTS_CHUNK = "ringostat.contacts.sync_chunk"
#: contacts per request; the doc names no limit, this keeps one request's body under ~1 MB
MAX_BATCH_SIZE = 1000
#: the fields of a Contact a report shows, failed or rejected (workers.jobs.kinds.ringostat_contacts)
REPORT_FIELDS = ("full_name", "external_id", "lead_id")


class ContactsSyncPayload(OperationPayload):
    """Sync contacts to the Ringostat Smart Phone contact book (the doc's body, by its field names)."""

    contacts: list[Contact] = Field(min_length=1, max_length=MAX_BATCH_SIZE)


class OrganizationsSyncPayload(OperationPayload):
    """Sync organizations that complete contacts in the Smart Phone contact book."""

    organizations: list[Organization] = Field(min_length=1, max_length=MAX_BATCH_SIZE)


class ContactsChunkPayload(ChunkPayload):
    """Payload of `ringostat.contacts.sync_chunk`: rows as [line, contact as the doc's JSON object]."""

    rows: list[tuple[int, Contact]]  # type: ignore[assignment]  # ChunkPayload's rows, typed
    batch_size: int = Field(default=100, ge=1, le=MAX_BATCH_SIZE)


sync_contacts = operation(SYNC_CONTACTS, ContactsSyncPayload, lambda c, p: c.minicrm.sync_contacts(p.contacts),
                          idempotent=True)
sync_organizations = operation(SYNC_ORGANIZATIONS, OrganizationsSyncPayload,
                               lambda c, p: c.minicrm.sync_organizations(p.organizations), idempotent=True)


@shared_task(bind=True, base=ChunkTask, name=SYNC_CONTACTS_CHUNK, ignore_result=True)
def sync_contacts_chunk(self: ChunkTask, **payload: Any) -> dict[str, int]:
    chunk = self.parse(ContactsChunkPayload, payload)
    runtime = current()
    contacts = dict(chunk.rows)  # line -> Contact
    return run_chunk(SYNC_CONTACTS_CHUNK, VENDOR, chunk, to_row=lambda wire: contact_row(*wire),
                     batch_size=chunk.batch_size,
                     send_batch=lambda rows: runtime.client(VENDOR, chunk.account).minicrm.sync_contacts(
                         [contacts[row.line] for row in rows]))


def contact_wire(line: int, contact: Contact) -> list:
    """A contact as it travels in a chunk: the producer (workers.jobs.kinds.ringostat_contacts)
    encodes it here; ContactsChunkPayload.rows decodes it back into (line, Contact)."""
    return [line, contact.model_dump(mode="json", by_alias=True)]


def contact_row(line: int, contact: Contact) -> JobRow:
    """The job row of a contact: its fields are what a report shows, its wire the whole contact."""
    return JobRow(line, report_fields(contact), contact_wire(line, contact))


def report_fields(contact: Contact) -> dict[str, str | None]:
    return {name: getattr(contact, name) for name in REPORT_FIELDS}
