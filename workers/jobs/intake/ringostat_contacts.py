"""Contacts for the Ringostat minicrm from a CRM export, validated by the doc's model.

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

Every contact is checked with `vendors.ringostat_minicrm.Contact` before anything is
sent; a contact that fails, or repeats an earlier line's (origin, externalId, leadId),
is a reject with its line and the reason (pydantic's words). Files are streamed: memory
stays bounded whatever their size, but for 8 bytes per contact for the repeat check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pydantic

from vendors.validation import describe

from vendors.ringostat_minicrm import Contact

from .lines import DEFAULT_MAX_LINE_BYTES, BadLine, CsvFormatError, Lines, open_file
from .table import TableRejectedRow, read_table, rejected
from .validate import SeenNumbers

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
#: what a reject shows of its contact, as far as it could be read
REPORT_FIELDS = ("full_name", "external_id", "lead_id")
_MULTI_SPLIT = re.compile(r"[,;|]")


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


def _shown(raw: Mapping[str, Any]) -> dict[str, str]:
    """The report's cells of a contact that failed validation, whatever their types."""
    names = {"full_name": ("fullName", "full_name"), "external_id": ("externalId", "external_id"),
             "lead_id": ("leadId", "lead_id")}
    found = {field: next((raw[key] for key in keys if raw.get(key) is not None), "") for field, keys in names.items()}
    return {field: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            for field, value in found.items()}


def _identity(contact: Contact) -> int:
    """A non-zero int64 naming the contact at the vendor, for SeenNumbers."""
    key = json.dumps([contact.origin, contact.external_id, contact.lead_id]).encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big", signed=True)
    return value or 1


__all__ = ["COLUMNS", "REPORT_FIELDS", "REQUIRED", "ContactRecord", "explain", "from_cells", "open_contacts",
           "validate"]
