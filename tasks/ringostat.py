"""Ringostat tasks: one campaign row, and a chunk of a bulk campaign load."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from pydantic import BaseModel, ConfigDict, Field

from tasks.backoff import backoff_s
from tasks.base import VendorTask
from tasks.chunks import ChunkRunner, JobRow
from tasks.runtime import current

VENDOR = "ringostat"
ADD_ROW = "ringostat.campaign_rows.add"
ADD_CHUNK = "ringostat.campaign_rows.add_chunk"


class CampaignRowPayload(BaseModel):
    """Payload of `ringostat.campaign_rows.add`: one number into one Power Dialer campaign."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: int = Field(gt=0)
    phone_number: str = Field(pattern=r"^\d{10,15}$", description="digits with country code, e.g. 380930000000")
    fio: str = Field(default="", max_length=255)
    account: str = "default"


class CampaignChunkPayload(BaseModel):
    """Payload of `ringostat.campaign_rows.add_chunk`: rows of a job, as [line, phone, fio]."""

    model_config = ConfigDict(extra="forbid")

    job_id: str
    campaign_id: int = Field(gt=0)
    account: str = "default"
    rows: list[tuple[int, str, str]]
    attempt: int = Field(default=0, ge=0)


@shared_task(bind=True, base=VendorTask, name=ADD_ROW)
def add_campaign_row(self: VendorTask, **payload: Any) -> dict[str, Any]:
    row = self.parse(CampaignRowPayload, payload)
    client = current().client(VENDOR, row.account)
    reply = self.call_vendor(VENDOR, row.account, lambda: client.add_campaign_row(row.campaign_id, row.phone_number, row.fio))
    return reply.model_dump()


@shared_task(bind=True, base=VendorTask, name=ADD_CHUNK, ignore_result=True)
def add_campaign_chunk(self: VendorTask, **payload: Any) -> dict[str, int]:
    chunk = self.parse(CampaignChunkPayload, payload)
    runtime = current()
    client = runtime.client(VENDOR, chunk.account)
    runner = ChunkRunner(
        ledger=runtime.ledger(chunk.job_id),
        limiter=runtime.limiter(VENDOR, chunk.account),
        retry=runtime.retry,
        lease_s=runtime.row_lease_s,
        send=lambda row: client.add_campaign_row(chunk.campaign_id, row.phone, row.fio),
    )
    outcome = runner.run([JobRow(*row) for row in chunk.rows])
    follow_up(ADD_CHUNK, chunk, outcome)
    return {"delivered": outcome.delivered, "failed": outcome.failed, "deferred": len(outcome.deferred)}


def follow_up(task_name: str, chunk: CampaignChunkPayload, outcome: Any) -> None:
    """Park rows of a paused job; defer rows still pending, or fail them once retries run out."""
    runtime = current()
    if outcome.stopped and outcome.stop_reason == "paused":
        runtime.park(chunk.job_id, task_name, _with_rows(chunk, outcome.stopped, chunk.attempt))
    elif outcome.stopped:
        ledger = runtime.ledger(chunk.job_id)
        for row in outcome.stopped:
            ledger.failed(row.line, phone=row.phone, fio=row.fio, reason="job cancelled", outcome="cancelled")
    if not outcome.deferred:
        return
    policy = runtime.retry
    if chunk.attempt >= policy.max_task_retries:
        ledger = runtime.ledger(chunk.job_id)
        reason = f"gave up after {chunk.attempt + 1} rounds of retries: {outcome.last_error or 'no slot from the limiter'}"
        for row in outcome.deferred:
            ledger.failed(row.line, phone=row.phone, fio=row.fio, reason=reason)
        return
    delay = backoff_s(chunk.attempt, base_s=policy.backoff_base_s, max_s=policy.backoff_max_s)
    runtime.defer(task_name, _with_rows(chunk, outcome.deferred, chunk.attempt + 1), delay_s=delay)


def _with_rows(chunk: CampaignChunkPayload, rows: list[JobRow], attempt: int) -> dict[str, Any]:
    payload = chunk.model_dump()
    payload["rows"] = [[row.line, row.phone, row.fio] for row in rows]
    payload["attempt"] = attempt
    return payload
