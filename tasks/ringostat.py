"""Ringostat tasks: one campaign row, and a chunk of a bulk campaign load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import shared_task
from pydantic import Field

from tasks.chunk_runner import JobRow
from tasks.chunk_task import ChunkPayload, ChunkTask, run_chunk
from tasks.operations import OperationPayload, operation
from tasks.runtime import current

VENDOR = "ringostat"
ADD_ROW = "ringostat.campaign_rows.add"
ADD_CHUNK = "ringostat.campaign_rows.add_chunk"


class CampaignRowPayload(OperationPayload):
    """Add one number to a Power Dialer campaign (one number per request)."""

    campaign_id: int = Field(gt=0)
    phone_number: str = Field(pattern=r"^\d{10,15}$", description="digits with country code, e.g. 380930000000")
    fio: str = Field(default="", max_length=255)


@dataclass(frozen=True, slots=True)
class CampaignChunkRow:
    """One row of a campaign load as it travels in a chunk: the producer (workers.jobs.kinds.
    ringostat_campaign) encodes it with to_wire, the chunk task decodes it with from_wire."""

    #: the fields a report shows of a row, failed or rejected (workers.jobs.kinds.ringostat_campaign)
    REPORT_FIELDS = ("phone", "fio")

    line: int
    phone: str  #: normalised: country code + digits
    fio: str

    def to_wire(self) -> list:
        return [self.line, self.phone, self.fio]

    @classmethod
    def from_wire(cls, wire: list) -> CampaignChunkRow:
        line, phone, fio = wire
        return cls(line, phone, fio)

    def fields(self) -> dict[str, str]:
        """By name: what the send reads and, for a failed row, the report shows."""
        return {name: getattr(self, name) for name in self.REPORT_FIELDS}


class CampaignChunkPayload(ChunkPayload):
    """Payload of `ringostat.campaign_rows.add_chunk`: rows of a job as [line, phone, fio]."""

    campaign_id: int = Field(gt=0)


add_campaign_row = operation(
    ADD_ROW, CampaignRowPayload, lambda client, p: client.add_campaign_row(p.campaign_id, p.phone_number, p.fio),
                             idempotent=False)


@shared_task(bind=True, base=ChunkTask, name=ADD_CHUNK, ignore_result=True)
def add_campaign_chunk(self: ChunkTask, **payload: Any) -> dict[str, int]:
    chunk = self.parse(CampaignChunkPayload, payload)
    runtime = current()
    return run_chunk(ADD_CHUNK, VENDOR, chunk, to_row=campaign_row,
                     send=lambda row: runtime.client(VENDOR, chunk.account).add_campaign_row(
                         chunk.campaign_id, row.fields["phone"], row.fields["fio"]))


def campaign_row(wire: list) -> JobRow:
    row = CampaignChunkRow.from_wire(wire)
    return JobRow(row.line, row.fields(), wire)
