"""The Ringostat Power Dialer campaign load: a job from a CSV file or from rows in code."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from tasks.ringostat import ADD_CHUNK, VENDOR

from workers.intake import read_csv, records_from_dicts, validate_contacts
from workers.kinds import JobKind, register
from workers.producer import file_source, start_job
from workers.settings import get_settings, ringostat_account

KIND = "ringostat-campaign"


def load_campaign_csv(
    path: str | Path,
    *,
    campaign_id: int,
    account: str = "default",
    region: str | None = None,
    phone_column: str | None = None,
    name_column: str | None = None,
    on_created: Callable[[str], None] = lambda job_id: None,
    on_progress: Callable[[int], None] = lambda n: None,
    resume: str | None = None,
) -> str:
    """Validate and enqueue a CSV; raises CsvFormatError before creating a job when the file is unusable.
    `resume`: a job whose load of this same file ended early, to go on after its last counted line."""
    ringostat_account(account)  # an unknown account fails before the file is even opened
    region = (region or get_settings().default_region).upper()
    # read_csv checks the header at once: an unusable file fails before any job exists
    with read_csv(path, phone_column=phone_column, name_column=name_column) as records:
        rows = validate_contacts(records, region=region)
        target = f"campaign {campaign_id} from {Path(path).name}"
        source = file_source(path, region=region, phone_column=phone_column, name_column=name_column)
        return _load(rows, campaign_id, account, target, on_created, on_progress, source=source, resume=resume)


def load_campaign_rows(
    rows: Iterable[dict],
    *,
    campaign_id: int,
    account: str = "default",
    region: str | None = None,
    on_created: Callable[[str], None] = lambda job_id: None,
    publish=None,
) -> str:
    """The same job from code: rows are dicts with `phone` and optional `fio` (and `line`, else
    their position). A line given twice raises DuplicateLine: before any job exists when `rows`
    is a sequence, else at that row (the job then ends as aborted, its earlier rows still sent)."""
    if isinstance(rows, Sequence):
        for _ in records_from_dicts(rows):
            pass
    validated = validate_contacts(records_from_dicts(rows), region=region or get_settings().default_region)
    return _load(validated, campaign_id, account, f"campaign {campaign_id}", on_created, lambda n: None, publish)


def _load(rows, campaign_id, account, target, on_created, on_progress, publish=None, source=None, resume=None) -> str:
    ringostat_account(account)
    return start_job(CAMPAIGN, rows, account=account, target=target, params={"campaign_id": campaign_id},
                     on_created=on_created, on_progress=on_progress, publish=publish, source=source, resume=resume)


def chunk_payload(job_id: str, params: dict, rows: list[list]) -> dict:
    return {"job_id": job_id, "campaign_id": params["campaign_id"], "account": params["account"], "rows": rows}


CAMPAIGN = register(JobKind(KIND, VENDOR, ADD_CHUNK, chunk_payload, report_fields=("phone", "fio")))

__all__ = ["ADD_CHUNK", "KIND", "load_campaign_csv", "load_campaign_rows"]
