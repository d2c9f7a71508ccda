"""A row the operator must fix: what every reader and every kind's checks yield for a
record they refuse, and what the producer keeps for the report (`as_record`).

A plain frozen slotted dataclass rather than a pydantic model: a file may have a
million of them, and a dataclass costs a fraction of a model's validation. The valid
rows are each kind's own (its chunk row in tasks/).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Cells copied into a reject are cut to this length, so a runaway cell (a whole
#: file swallowed by an unclosed quote) cannot bloat the job store or the report.
MAX_REJECT_CELL_CHARS = 200


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


__all__ = ["MAX_REJECT_CELL_CHARS", "RejectedRow"]
