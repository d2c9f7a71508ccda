"""The Ringostat Power Dialer campaign load: a job from a CSV file or from rows in code.

Reader and checks: workers.jobs.intake (read_csv, validate_contacts: a phone column and an
optional name, numbers normalised). A chunk row is tasks.ringostat.CampaignRow; the report
shows REPORT_FIELDS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from tasks.ringostat import ADD_CHUNK, VENDOR, CampaignRow

from workers.jobs.intake import ContactRow, read_csv, records_from_dicts, validate_contacts
from workers.jobs.producer import JobKind, Publish, file_source, start_job
from workers.settings import get_settings, ringostat_account

KIND = "ringostat-campaign"
REPORT_FIELDS = ("phone", "fio")


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
) -> str:
    """Validate and enqueue a CSV; raises CsvFormatError before creating a job when the file is unusable.
    `publish(task_name, kwargs, **options)` sends each chunk (workers.app.publish in a worker's setup).
    `resume`: a job whose load of this same file ended early, to go on after its last counted line."""
    ringostat_account(account)  # an unknown account fails before the file is even opened
    region = (region or get_settings().default_region).upper()
    # read_csv checks the header at once: an unusable file fails before any job exists
    with read_csv(path, phone_column=phone_column, name_column=name_column) as records:
        rows = validate_contacts(records, region=region)
        target = f"campaign {campaign_id} from {Path(path).name}"
        source = file_source(path, region=region, phone_column=phone_column, name_column=name_column)
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


def chunk_payload(job_id: str, params: dict, rows: list[list]) -> dict:
    return {"job_id": job_id, "campaign_id": params["campaign_id"], "account": params["account"], "rows": rows}


def row_wire(row: ContactRow) -> list:
    return CampaignRow(row.line, row.phone, row.fio).to_wire()


JOB_KIND = JobKind(KIND, VENDOR, ADD_CHUNK, chunk_payload, report_fields=REPORT_FIELDS, to_wire=row_wire)

__all__ = ["ADD_CHUNK", "KIND", "REPORT_FIELDS", "load_campaign_csv", "load_campaign_rows"]
