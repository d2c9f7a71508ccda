"""The Ringostat Power Dialer campaign load: a job from a CSV file or from rows in code.

    telequeue load ringostat-campaign --campaign 456 contacts.csv

Reader: workers.jobs.intake.read_csv (a phone column and an optional name column, found by
name). Checks, here (`validate_contacts`): the number is normalised (country code + digits;
`region` for numbers written without one), the name tidied and refused above the vendor's
FIO_MAX_CHARS, and a number already seen in the job is rejected as "duplicate of line N".
Rows from code (`load_campaign_rows`) are dicts with `phone` and `fio`, numbered by
intake.numbered. A valid row is tasks.ringostat.CampaignChunkRow, its chunk message
CampaignChunkPayload; the report shows CampaignChunkRow.REPORT_FIELDS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import phonenumbers
from pydantic import Field

from tasks.ringostat import ADD_CHUNK, VENDOR, CampaignChunkPayload, CampaignChunkRow
from vendors.ringostat import FIO_MAX_CHARS

from workers.jobs.intake import InvalidPhone, RejectedRow, SeenNumbers, normalize_phone, numbered, read_csv
from workers.jobs.kind import FileLoad, JobKind, LoadOptions, OnCreated, Publish
from workers.jobs.producer import file_source, start_job
from workers.settings import get_settings, ringostat_account

KIND = "ringostat-campaign"

Record = tuple[int, str, str]  # (line, phone cell, name cell); intake's RawRecord is one


def load_campaign_csv(
    path: str | Path,
    *,
    campaign_id: int,
    publish: Publish,
    account: str = "default",
    region: str | None = None,
    phone_column: str | None = None,
    name_column: str | None = None,
    on_created: Callable[[str], None] = lambda job_id: None,
    on_progress: Callable[[int], None] = lambda n: None,
    resume: str | None = None,
    file_name: str | None = None,
) -> str:
    """Validate and enqueue a CSV; raises CsvFormatError before creating a job when the file is unusable.
    `publish(task_name, kwargs, **options)` sends each chunk (workers.app.publish in a worker's setup).
    `resume`: a job whose load of this same file ended early, to go on after its last counted line.
    `file_name`: the name the job records, which --resume compares (None: the path's; Flower's
    temporary copy of an upload has a safe name, the job the file's own)."""
    ringostat_account(account)  # an unknown account fails before the file is even opened
    region = (region or get_settings().default_region).upper()
    # read_csv checks the header at once: an unusable file fails before any job exists
    with read_csv(path, phone_column=phone_column, name_column=name_column) as records:
        rows = validate_contacts(records, region=region)
        source = file_source(path, file_name=file_name, region=region, phone_column=phone_column,
                             name_column=name_column)
        target = f"campaign {campaign_id} from {source['file']}"
        return _load(rows, campaign_id, account, target, on_created, on_progress, publish, source=source,
                     resume=resume)


def load_campaign_rows(
    rows: Iterable[dict],
    *,
    campaign_id: int,
    publish: Publish,
    account: str = "default",
    region: str | None = None,
    on_created: Callable[[str], None] = lambda job_id: None,
) -> str:
    """The same job from code: rows are dicts with `phone` and optional `fio` (and `line`, else
    their position). A line given twice raises DuplicateLine: before any job exists when `rows`
    is a sequence, else at that row (the job then ends as aborted, its earlier rows still sent)."""
    if isinstance(rows, Sequence):
        for _ in records_from_dicts(rows):
            pass
    validated = validate_contacts(records_from_dicts(rows), region=region or get_settings().default_region)
    return _load(validated, campaign_id, account, f"campaign {campaign_id}", on_created, lambda n: None, publish)


def _load(rows, campaign_id, account, target, on_created, on_progress, publish, source=None, resume=None) -> str:
    ringostat_account(account)
    return start_job(JOB_KIND, rows, account=account, target=target, params={"campaign_id": campaign_id},
                     on_created=on_created, on_progress=on_progress, publish=publish, source=source, resume=resume)


# The checks


def validate_contacts(
    records: Iterable[Record | RejectedRow], *, region: str = "UA"
) -> Iterator[CampaignChunkRow | RejectedRow]:
    """Yield a `CampaignChunkRow` or a `RejectedRow` for each record, in order; the reader's
    rejects pass through untouched.

    `region` applies to numbers written without a country code. Raises
    `ValueError` at once for a region phonenumbers does not know.
    """
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}; use an ISO 3166 code such as 'UA'")
    return _validate(records, region)


def _validate(records: Iterable[Record | RejectedRow], region: str) -> Iterator[CampaignChunkRow | RejectedRow]:
    seen = SeenNumbers()
    for record in records:
        if isinstance(record, RejectedRow):
            yield record
            continue
        line, phone_cell, fio_cell = record
        try:
            phone = normalize_phone(phone_cell, region)
        except InvalidPhone as exc:
            yield RejectedRow(line, phone_cell, fio_cell, exc.reason)
            continue
        # Collapses line breaks from quoted cells and stray double spaces:
        # the vendor shows the name on an agent's screen.
        fio = " ".join(fio_cell.split())
        if len(fio) > FIO_MAX_CHARS:  # refused here, before it costs a limiter slot and a request
            yield RejectedRow(line, phone_cell, fio_cell, f"fio longer than {FIO_MAX_CHARS} characters "
                                                          f"({len(fio)}), the vendor's limit")
            continue
        # A number is called once per job, even when the file lists it in two formats.
        first = seen.first_line(int(phone), line)
        if first:
            yield RejectedRow(line, phone_cell, fio_cell, f"duplicate of line {first}")
        else:
            yield CampaignChunkRow(line, phone, fio)


def records_from_dicts(rows: Iterable[Mapping[str, Any]], *, start: int = 1) -> Iterator[Record]:
    """Adapt `{"phone": ..., "fio": ...}` mappings to records for `validate_contacts`.

    Lines as intake.numbered gives them (the row's position from `start`, or its own "line";
    DuplicateLine or ValueError at the row where one is unusable). Missing or None cells
    become "", other values `str()`.
    """
    for line, row in numbered(rows, start=start):
        yield (line, _cell(row.get("phone")), _cell(row.get("fio")))


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# The file load, as `telequeue load ringostat-campaign` and Flower's upload start it


class CampaignOptions(LoadOptions):
    campaign: int = Field(ge=1)
    region: str | None = None
    phone_column: str | None = None
    name_column: str | None = None


def _load_file(path: str, options: CampaignOptions, on_created: OnCreated, publish: Publish,
               file_name: str | None = None) -> str:
    return load_campaign_csv(path, campaign_id=options.campaign, publish=publish, account=options.account,
                             region=options.region, phone_column=options.phone_column,
                             name_column=options.name_column, on_created=on_created, file_name=file_name)


JOB_KIND = JobKind(KIND, VENDOR, ADD_CHUNK, CampaignChunkPayload.for_job, to_wire=CampaignChunkRow.to_wire,
                   report_fields=CampaignChunkRow.REPORT_FIELDS, file_load=FileLoad(CampaignOptions, _load_file))

__all__ = ["ADD_CHUNK", "KIND", "CampaignOptions", "load_campaign_csv", "load_campaign_rows", "records_from_dicts",
           "validate_contacts"]
