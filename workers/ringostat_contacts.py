"""The Ringostat minicrm contacts load: a CRM export (JSON lines or CSV) synced in batches.

A row of this job is one contact (its line in the file); a chunk is one batch, sent as one
contacts/sync request (tasks.chunk_runner.ChunkRunner). The ledger stays per contact: the chunk
task claims every contact of the batch, sends one request, then marks them all delivered,
or all failed with the vendor's reason: the vendor answers for the request, not per
contact. Counters therefore count contacts, and a report lists failed contacts by line.
A batch whose outcome is unknown (a timeout) is sent again: a sync is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tasks.ringostat_minicrm import MAX_BATCH_SIZE, SYNC_CONTACTS_CHUNK, VENDOR
from workers.intake.ringostat_contacts import REPORT_FIELDS, ContactRecord, open_contacts
from workers.kinds import JobKind, register
from workers.producer import file_source, start_job
from workers.settings import ringostat_account

KIND = "ringostat-contacts"
DEFAULT_BATCH_SIZE = 100


def load_contacts_file(
    path: str | Path,
    *,
    account: str = "default",
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_created: Callable[[str], None] = lambda job_id: None,
    on_progress: Callable[[int], None] = lambda n: None,
    resume: str | None = None,
) -> str:
    """Validate and enqueue an export; a file unusable as a whole raises CsvFormatError, and no job exists.
    `resume`: a job whose load of this same file ended early, to go on after its last counted line."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be 1..{MAX_BATCH_SIZE}, got {batch_size}")
    project_id = project_of(account)  # an unknown account fails before the file is even opened
    with open_contacts(path, project_id=project_id) as items:
        return _load(items, account, batch_size, f"contacts from {Path(path).name}", on_created, on_progress,
                     source=file_source(path), resume=resume)


def project_of(account: str) -> int:
    """The account's Ringostat project: the doc wants its id in every contact and organization."""
    project = ringostat_account(account).project_id
    if not project.isdigit():
        raise ValueError(f"ringostat account {account!r}: project_id {project!r} is not a number")
    return int(project)


def _load(items, account, batch_size, target, on_created, on_progress, *, source, resume) -> str:
    # One chunk is one batch, one request: the chunk size is the batch size.
    return start_job(CONTACTS, items, account=account, target=target, params={"batch_size": batch_size},
                     on_created=on_created, on_progress=on_progress, chunk_size=batch_size, to_wire=contact_wire,
                     source=source, resume=resume)


def contact_wire(item: ContactRecord) -> list:
    return [item.line, item.contact.model_dump(mode="json", by_alias=True)]


def chunk_payload(job_id: str, params: dict, rows: list[list]) -> dict:
    return {"job_id": job_id, "account": params["account"], "batch_size": params["batch_size"], "rows": rows}


CONTACTS = register(JobKind(KIND, VENDOR, SYNC_CONTACTS_CHUNK, chunk_payload, report_fields=REPORT_FIELDS))

__all__ = ["DEFAULT_BATCH_SIZE", "KIND", "load_contacts_file"]
