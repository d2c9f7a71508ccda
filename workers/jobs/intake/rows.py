"""The two shapes a row of a bulk job takes once the intake has looked at it.

Plain frozen slotted dataclasses rather than pydantic models: a million of them
are built per job, and a dataclass costs a fraction of a model's validation.
The checks that matter (the phone number) happen in `phones.normalize_phone`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Cells copied into a reject are cut to this length, so a runaway cell (a whole
#: file swallowed by an unclosed quote) cannot bloat the job store or the report.
MAX_REJECT_CELL_CHARS = 200


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A row ready to send: `phone` is normalised (country code, digits only)."""

    line: int
    phone: str
    fio: str


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row the operator must fix: cells as found in the file, and why."""

    line: int
    phone: str
    fio: str
    reason: str

    def __post_init__(self) -> None:
        # frozen: object.__setattr__ is the documented way to adjust in __post_init__
        if len(self.phone) > MAX_REJECT_CELL_CHARS:
            object.__setattr__(self, "phone", self.phone[:MAX_REJECT_CELL_CHARS])
        if len(self.fio) > MAX_REJECT_CELL_CHARS:
            object.__setattr__(self, "fio", self.fio[:MAX_REJECT_CELL_CHARS])

    def as_record(self) -> dict:
        """What the job keeps of it for the report: line, cells, reason."""
        return {"line": self.line, "phone": self.phone, "fio": self.fio, "reason": self.reason}


__all__ = ["MAX_REJECT_CELL_CHARS", "ContactRow", "RejectedRow"]
