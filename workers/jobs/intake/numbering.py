"""Rows from code get their line: a row's slot in the job's ledger, so each needs its own.

    for line, row in numbered([{"phone": "093 000 00 01"}, {"line": 7, "phone": "..."}]):
        ...                                      # (1, {...}), (7, {...})
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .seen import SeenNumbers

#: the highest line a row from code may name: a line is a bit in the job's ledger (12.5 MB at most)
MAX_LINE = 100_000_000


class DuplicateLine(ValueError):
    """Two rows from code name the same line: they would share one slot in the job's ledger."""


def numbered(rows: Iterable[Mapping[str, Any]], *, start: int = 1) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Each mapping with its line: its position counted from `start`, unless it has its own
    "line". One given twice (or equal to another row's position) raises DuplicateLine, and
    one outside 1..MAX_LINE ValueError, at the row where it happens."""
    seen = SeenNumbers()
    for index, row in enumerate(rows, start):
        position = index - start  # in the caller's sequence
        line = _line(row.get("line", index), position)
        first = seen.first_line(line, position + 1)
        if first:
            raise DuplicateLine(f"rows[{first - 1}] and rows[{position}] both have line {line}: each row "
                                f"needs a line of its own (or leave `line` out: rows are then numbered by position)")
        yield line, row


def _line(value: Any, position: int) -> int:
    try:
        line = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"rows[{position}]: line {value!r} is not a whole number") from None
    if not 1 <= line <= MAX_LINE:
        raise ValueError(f"rows[{position}]: line {line} is outside 1..{MAX_LINE}")
    return line


__all__ = ["MAX_LINE", "DuplicateLine", "numbered"]
