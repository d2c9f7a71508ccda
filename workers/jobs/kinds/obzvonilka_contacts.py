"""The Obzvonilka contacts load: upsert a CSV into a contact base by external code.

    telequeue load obzvonilka-contacts --base 7 contacts.csv

Each row becomes one contact: found by its external code, then PATCHed, or POSTed when
the base has none (tasks.obzvonilka.upsert_contact). Columns are found by name
(`COLUMNS`); `external_code` and `phone` are required, the phone is normalised like the
Ringostat campaign's (country code + digits) and sent as `phone1`. Empty cells are not
sent, so an update never blanks a field the vendor already holds.

Rejected, with the line and the reason: a missing external code, no valid phone, a
field the vendor would refuse (too long), and a repeat of an earlier line's external
code ("duplicate of line N": one contact per code per file, the first line wins).

A chunk row is tasks.obzvonilka.UpsertRow, its chunk message UpsertChunkPayload; the report
shows UpsertRow.REPORT_FIELDS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import phonenumbers
import pydantic
from pydantic import Field

from tasks.obzvonilka import UPSERT_CHUNK, UpsertChunkPayload, UpsertRow, contact_fields
from vendors.obzvonilka import VENDOR
from vendors.validation import describe

from workers.jobs.intake import (
    InvalidPhone, SeenNumbers, TableRecord, TableRejectedRow, normalize_phone, read_table,
)
from workers.jobs.intake.table import rejected
from workers.jobs.kind import FileLoad, JobKind, LoadOptions, OnCreated, Publish
from workers.jobs.producer import file_source, start_job
from workers.settings import get_settings, vendor_account

KIND = "obzvonilka-contacts"
#: logical column -> header names accepted for it (case-insensitive, spaces and dashes as _)
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_code": ("external_code", "external_id", "code", "внешний_код", "зовнішній_код", "код"),
    "phone": ("phone", "phone1", "phone_number", "tel", "telephone", "телефон", "номер"),
    "name": ("name", "fio", "full_name", "fullname", "фио", "піб", "имя", "contact"),
    "email": ("email", "e_mail"),
    "address_string": ("address_string", "address", "адрес", "адреса"),
    "description": ("description", "remark", "comment", "примечание", "примітка", "коментар"),
    "www": ("www", "site", "website", "сайт"),
}
REQUIRED = ("external_code", "phone")
#: sent when present, after the three every row has
EXTRA_FIELDS = ("email", "address_string", "description", "www")


def load_contacts_csv(
    path: str | Path,
    *,
    base_id: int,
    publish: Publish,
    account: str = "default",
    region: str | None = None,
    on_created: Callable[[str], None] = lambda job_id: None,
    on_progress: Callable[[int], None] = lambda n: None,
    resume: str | None = None,
    file_name: str | None = None,
) -> str:
    """Validate and enqueue a CSV; raises CsvFormatError (or ValueError) before creating a job.
    `resume`: a job whose load of this same file ended early, to go on after its last counted line.
    `file_name`: the name the job records, which --resume compares (None: the path's; Flower's
    temporary copy of an upload has a safe name, the job the file's own)."""
    vendor_account(VENDOR, account)  # an unknown account fails before the file is even opened
    region = _region(region or get_settings().default_region)
    with read_table(path, columns=COLUMNS, required=REQUIRED) as records:
        source = file_source(path, file_name=file_name, region=region)
        return start_job(JOB_KIND, validate_upserts(records, region=region), account=account,
                         target=f"contact base {base_id} from {source['file']}", params={"base_id": base_id},
                         publish=publish, on_created=on_created, on_progress=on_progress, source=source,
                         resume=resume)


def validate_upserts(records: Iterable[TableRecord | TableRejectedRow], *, region: str) -> Iterator[
        UpsertRow | TableRejectedRow]:
    """An UpsertRow or a reject per record, in file order; read_table's rejects pass through."""
    seen = SeenNumbers()
    for record in records:
        if isinstance(record, TableRejectedRow):
            yield record
            continue
        values = record.values
        code = values["external_code"].strip()
        if not code:
            yield rejected(record.line, values, "missing external_code")
            continue
        try:
            phone = normalize_phone(values["phone"], region)
        except InvalidPhone as exc:
            yield rejected(record.line, values, f"no valid phone: {exc.reason}")
            continue
        row = UpsertRow(record.line, code, phone, " ".join(values["name"].split()),
                        {name: values[name].strip() for name in EXTRA_FIELDS if values[name].strip()})
        problem = _vendor_problem(row)
        if problem:
            yield rejected(record.line, values, problem)
            continue
        first = seen.first_line(_code_key(code), record.line)
        yield rejected(record.line, values, f"duplicate of line {first}") if first else row


def _vendor_problem(row: UpsertRow) -> str | None:
    """What ContactFields (the vendor's limits) refuses, checked now so no chunk meets it."""
    try:
        contact_fields({"external_code": row.external_code, "phone": row.phone, "name": row.name, **row.extra},
                       with_code=True)
    except pydantic.ValidationError as exc:
        return describe(exc, limit=1)
    return None


def _code_key(code: str) -> int:
    # SeenNumbers keeps int64s (~32 MB per million codes, a third of a dict of strings); a
    # 64-bit hash makes a false "duplicate" unlikely (~1e-8 in a million codes) and visible.
    key = int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest(), "big", signed=True)
    return key or 1  # 0 marks a free slot in SeenNumbers


def _region(region: str) -> str:
    if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}; use an ISO 3166 code such as 'UA'")
    return region.upper()


# The file load, as `telequeue load obzvonilka-contacts` and Flower's upload start it


class ObzvonilkaOptions(LoadOptions):
    base: int = Field(ge=1)
    region: str | None = None


def _load_file(path: str, options: ObzvonilkaOptions, on_created: OnCreated, publish: Publish,
               file_name: str | None = None) -> str:
    return load_contacts_csv(path, base_id=options.base, publish=publish, account=options.account,
                             region=options.region, on_created=on_created, file_name=file_name)


JOB_KIND = JobKind(KIND, VENDOR, UPSERT_CHUNK, UpsertChunkPayload.for_job, to_wire=UpsertRow.to_wire,
                   report_fields=UpsertRow.REPORT_FIELDS, file_load=FileLoad(ObzvonilkaOptions, _load_file))

__all__ = ["COLUMNS", "KIND", "REQUIRED", "ObzvonilkaOptions", "UpsertRow", "load_contacts_csv", "validate_upserts"]
