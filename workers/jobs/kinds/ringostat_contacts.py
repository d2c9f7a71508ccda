"""The Ringostat minicrm contacts load: a CRM export (JSON lines or CSV) synced in batches.

A row of this job is one contact (its line in the file); a chunk is one batch, sent as one
contacts/sync request (tasks.chunk_runner.ChunkRunner). The ledger stays per contact: the chunk
task claims every contact of the batch, sends one request, then marks them all delivered,
or all failed with the vendor's reason: the vendor answers for the request, not per
contact. Counters therefore count contacts, and a report lists failed contacts by line.
A batch whose outcome is unknown (a timeout) is sent again: a sync is idempotent.

Reader and checks: contacts from a CRM export, validated by the doc's model.

    with open_contacts("export.jsonl", project_id=123) as items:
        for item in items:          # ContactRecord(line, contact) or TableRejectedRow
            ...

Two formats, chosen by the file's suffix:
- JSON lines (`.jsonl`, `.ndjson`): one contact per line, as the doc's JSON object
  (`fullName`, `contactDirections`, ...; snake_case names work too). `projectId`, left
  out, is the account's project, in the contact and in each of its organizations.
- CSV (anything else), read by `read_table`: one contact per record, columns in COLUMNS.
  `phone` and `email` cells may hold several values split by `,` `;` or `|`; each becomes
  a contact direction named `work`. `organization_name` with `organization_external_id`
  make the contact's one organization. Empty cells are null.

Every contact is checked with `vendors.ringostat.models.Contact` before anything is
sent; a contact that fails, or repeats an earlier line's (origin, externalId, leadId),
is a reject with its line and the reason (pydantic's words). Files are streamed: memory
stays bounded whatever their size, but for 8 bytes per contact for the repeat check.

A chunk row is tasks.ringostat_minicrm.contact_wire's [line, contact], its chunk message
ContactsChunkPayload; the report shows tasks.ringostat_minicrm.REPORT_FIELDS.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import Field

from tasks.ringostat_minicrm import (
    MAX_BATCH_SIZE, REPORT_FIELDS, SYNC_CONTACTS_CHUNK, VENDOR, ContactsChunkPayload, contact_wire,
)
from vendors.ringostat import Contact
from vendors.validation import describe

from workers.jobs.intake.lines import DEFAULT_MAX_LINE_BYTES, BadLine, CsvFormatError, Lines, open_file
from workers.jobs.intake.table import TableRejectedRow, read_table, rejected
from workers.jobs.intake.seen import SeenNumbers
from workers.jobs.kind import FileLoad, JobKind, LoadOptions, OnCreated, Publish
from workers.jobs.producer import file_source, start_job
from workers.settings import ringostat_account

KIND = "ringostat-contacts"
DEFAULT_BATCH_SIZE = 100
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
DIRECTION_NAME = "work"
COLUMNS: dict[str, tuple[str, ...]] = {
    "full_name": ("full_name", "fullname", "name", "fio", "піб", "фио"),
    "origin": ("origin", "crm"),
    "external_id": ("external_id", "externalid", "contact_id", "id"),
    "lead_id": ("lead_id", "leadid"),
    "responsible": ("responsible", "responsible_id"),
    "staff_id": ("staff_id", "staffid"),
    "contact_link": ("contact_link", "contactlink"),
    "lead_link": ("lead_link", "leadlink"),
    "deal_link": ("deal_link", "deallink"),
    "google_client_id": ("google_client_id", "googleclientid"),
    "phone": ("phone", "phones", "phone_number", "tel", "телефон"),
    "email": ("email", "emails", "e_mail"),
    "organization_name": ("organization_name", "organization", "company"),
    "organization_external_id": ("organization_external_id", "organization_id", "company_id"),
}
REQUIRED = ("full_name", "origin", "responsible")
_MULTI_SPLIT = re.compile(r"[,;|]")


def load_contacts_file(
    path: str | Path,
    *,
    publish: Publish,
    account: str = "default",
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_created: Callable[[str], None] = lambda job_id: None,
    on_progress: Callable[[int], None] = lambda n: None,
    resume: str | None = None,
    file_name: str | None = None,
) -> str:
    """Validate and enqueue an export; a file unusable as a whole raises CsvFormatError, and no job exists.
    `resume`: a job whose load of this same file ended early, to go on after its last counted line.
    `file_name`: the name the job records, which --resume compares (None: the path's; Flower's
    temporary copy of an upload has a safe name, the job the file's own)."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be 1..{MAX_BATCH_SIZE}, got {batch_size}")
    project_id = project_of(account)  # an unknown account fails before the file is even opened
    with open_contacts(path, project_id=project_id) as items:
        source = file_source(path, file_name=file_name)
        return _load(items, account, batch_size, f"contacts from {source['file']}", on_created, on_progress,
                     publish=publish, source=source, resume=resume)


def project_of(account: str) -> int:
    """The account's Ringostat project: the doc wants its id in every contact and organization."""
    project = ringostat_account(account).project_id
    if not project.isdigit():
        raise ValueError(f"ringostat account {account!r}: project_id {project!r} is not a number")
    return int(project)


def _load(items, account, batch_size, target, on_created, on_progress, *, publish, source, resume) -> str:
    # One chunk is one batch, one request: the chunk size is the batch size.
    return start_job(JOB_KIND, items, account=account, target=target, params={"batch_size": batch_size},
                     publish=publish, on_created=on_created, on_progress=on_progress, chunk_size=batch_size,
                     source=source, resume=resume)


def record_wire(item: ContactRecord) -> list:
    return contact_wire(item.line, item.contact)


# The reader and its checks


@dataclass(frozen=True, slots=True)
class ContactRecord:
    line: int
    contact: Contact


Item = ContactRecord | TableRejectedRow


@contextmanager
def open_contacts(path: str | os.PathLike[str], *, project_id: int,
                  max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Iterator[Item]]:
    """Open an export; file-level problems raise CsvFormatError before any item."""
    shown = os.fspath(path)
    if shown.lower().endswith(JSON_LINES_SUFFIXES):
        with open_file(shown) as stream:
            records = _json_records(stream, max_line_bytes)
            yield validate(_nonempty(records, shown), project_id=project_id)
    else:
        with read_table(shown, columns=COLUMNS, required=REQUIRED, max_line_bytes=max_line_bytes) as table:
            records = (item if isinstance(item, TableRejectedRow) else (item.line, from_cells(item.values))
                       for item in table)
            yield validate(records, project_id=project_id)


def validate(records: Iterable[tuple[int, Mapping[str, Any]] | TableRejectedRow], *,
             project_id: int) -> Iterator[Item]:
    """Contacts as (line, doc-shaped mapping) -> ContactRecord, or a reject; rejects pass through."""
    seen = SeenNumbers()
    for record in records:
        if isinstance(record, TableRejectedRow):
            yield record
            continue
        line, raw = record
        try:
            contact = Contact.model_validate(_with_project(raw, project_id))
        except pydantic.ValidationError as exc:
            yield rejected(line, _shown(raw), explain(exc))
            continue
        foreign = _foreign_project(contact, project_id)
        if foreign:
            yield rejected(line, _shown(raw), f"projectId {foreign} is not the account's project {project_id}")
            continue
        first = seen.first_line(_identity(contact), line)
        if first:
            yield rejected(line, _shown(raw), f"duplicate of line {first}")
        else:
            yield ContactRecord(line, contact)


def from_cells(values: Mapping[str, str]) -> dict[str, Any]:
    """A CSV record's cells (by COLUMNS name) as the doc's contact object."""
    cell = {name: value.strip() or None for name, value in values.items()}
    directions = [{"type": kind, "name": DIRECTION_NAME, "value": value}
                  for kind in ("phone", "email") for value in _MULTI_SPLIT.split(cell.get(kind) or "") if value.strip()]
    organization = None
    if cell.get("organization_name") or cell.get("organization_external_id"):
        organization = [{"name": cell.get("organization_name"), "externalId": cell.get("organization_external_id"),
                         "origin": cell.get("origin")}]
    return {"fullName": cell.get("full_name"), "origin": cell.get("origin"), "externalId": cell.get("external_id"),
            "leadId": cell.get("lead_id"), "responsible": cell.get("responsible"), "staffId": cell.get("staff_id"),
            "contactLink": cell.get("contact_link"), "leadLink": cell.get("lead_link"),
            "dealLink": cell.get("deal_link"), "googleClientId": cell.get("google_client_id"),
            "contactDirections": directions, "organizations": organization}


def explain(exc: pydantic.ValidationError) -> str:
    """pydantic's error, one line: `field.path: message` for the first few problems."""
    more = exc.error_count() - 3
    return describe(exc, limit=3, whole="contact") + (f"; and {more} more" if more > 0 else "")


def _json_records(stream, max_line_bytes: int) -> Iterator[tuple[int, Any] | TableRejectedRow]:
    # Lines: read_csv's bounded, line-numbered reader (too long, NUL bytes, not UTF-8).
    lines = Lines(stream, line_no=0, max_line_bytes=max_line_bytes)
    while True:
        lines.start_record()
        try:
            text = next(lines).lstrip("\ufeff")
        except StopIteration:
            return
        except BadLine as bad:
            yield rejected(bad.line, {}, bad.reason)
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield rejected(lines.line_no, {}, f"not valid JSON: {exc}")
            continue
        if isinstance(value, dict):
            yield lines.line_no, value
        else:
            yield rejected(lines.line_no, {}, f"a line must be one JSON object, not {type(value).__name__}")


def _nonempty(records: Iterator, path: str) -> Iterator:
    # As read_csv: a file without a single record fails before a job is created.
    first = next(records, None)
    if first is None:
        raise CsvFormatError(f"{path}: no contacts in the file")
    return _chain(first, records)


def _chain(first: Any, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _with_project(raw: Mapping[str, Any], project_id: int) -> Any:
    if not isinstance(raw.get("organizations"), list):
        return {"projectId": project_id, **raw}
    organizations = [{"projectId": project_id, **org} if isinstance(org, dict) else org for org in raw["organizations"]]
    return {"projectId": project_id, **raw, "organizations": organizations}


def _foreign_project(contact: Contact, project_id: int) -> int | None:
    ids = [contact.project_id, *(org.project_id for org in contact.organizations or [])]
    return next((found for found in ids if found != project_id), None)


#: each report field -> the keys it may have in a contact as read (the doc's camelCase first, as Contact reads it)
_SHOWN_KEYS = {field: (Contact.model_fields[field].alias or field, field) for field in REPORT_FIELDS}


def _shown(raw: Mapping[str, Any]) -> dict[str, str]:
    """The report's cells of a contact that failed validation, whatever their types."""
    found = {field: next((raw[key] for key in keys if raw.get(key) is not None), "")
             for field, keys in _SHOWN_KEYS.items()}
    return {field: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            for field, value in found.items()}


def _identity(contact: Contact) -> int:
    """A non-zero int64 naming the contact at the vendor, for SeenNumbers."""
    key = json.dumps([contact.origin, contact.external_id, contact.lead_id]).encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big", signed=True)
    return value or 1


# The file load, as `telequeue load ringostat-contacts` and Flower's upload start it


class RingostatContactsOptions(LoadOptions):
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=MAX_BATCH_SIZE)


def _load_file(path: str, options: RingostatContactsOptions, on_created: OnCreated, publish: Publish,
               file_name: str | None = None) -> str:
    return load_contacts_file(path, publish=publish, account=options.account, batch_size=options.batch_size,
                              on_created=on_created, file_name=file_name)


JOB_KIND = JobKind(KIND, VENDOR, SYNC_CONTACTS_CHUNK, ContactsChunkPayload.for_job, to_wire=record_wire,
                   report_fields=REPORT_FIELDS, file_load=FileLoad(RingostatContactsOptions, _load_file))

__all__ = ["COLUMNS", "DEFAULT_BATCH_SIZE", "KIND", "REQUIRED", "ContactRecord", "RingostatContactsOptions", "explain",
           "from_cells", "load_contacts_file", "open_contacts", "validate"]
