"""Turn raw records into rows to send or rows to reject, once per number per job.

The input is what `read_csv` yields (`RawRecord` or `RejectedRow`), or any
`(line, phone, fio)` tuples, e.g. from `records_from_dicts` for apps that load
contacts from code. Rejects pass through untouched, in file order.

A number seen earlier in the job is rejected as "duplicate of line N" (N = its
first occurrence), so a contact is called once even when the file lists it in
two formats. The seen numbers live in `SeenNumbers`, an int64 hash table: about
32 MB for a million numbers, against ~106 MB for a dict of int -> line and
~66 MB for a set of ints (measured on CPython 3.11).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import phonenumbers

from vendors.ringostat import FIO_MAX_CHARS

from .phones import InvalidPhone, normalize_phone
from .rows import ContactRow, RejectedRow

Record = tuple[int, str, str]  # (line, phone cell, name cell); RawRecord is one


class SeenNumbers:
    """Normalised numbers already accepted in this job, each with its first line.

    Open addressing with linear probing over two `array('q')`: one for the
    numbers (as ints; 0 marks a free slot, and no phone number is 0), one for
    the lines. Kept at most half full so a probe run stays short.
    """

    def __init__(self, *, capacity: int = 1 << 16) -> None:
        self._allocate(1 << max(capacity - 1, 1).bit_length())

    def __len__(self) -> int:
        return self._count

    def first_line(self, number: int, line: int) -> int:
        """Line where `number` was first seen, or 0 after recording it at `line`."""
        numbers, mask = self._numbers, self._mask
        slot = (number ^ (number >> 20)) & mask  # mixes in the high digits: operator codes
        while True:
            found = numbers[slot]
            if found == number:
                return self._lines[slot]
            if not found:
                break
            slot = (slot + 1) & mask
        numbers[slot] = number
        self._lines[slot] = line
        self._count += 1
        if self._count * 2 > mask:
            self._grow()
        return 0

    def _allocate(self, size: int) -> None:
        self._mask = size - 1
        self._numbers = array("q", [0]) * size
        self._lines = array("q", [0]) * size
        self._count = 0

    def _grow(self) -> None:
        numbers, lines = self._numbers, self._lines
        self._allocate(2 * len(numbers))
        for number, line in zip(numbers, lines):
            if number:
                self.first_line(number, line)


def validate_contacts(
    records: Iterable[Record | RejectedRow], *, region: str = "UA"
) -> Iterator[ContactRow | RejectedRow]:
    """Yield a `ContactRow` or a `RejectedRow` for each record, in order.

    `region` applies to numbers written without a country code. Raises
    `ValueError` at once for a region phonenumbers does not know.
    """
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}; use an ISO 3166 code such as 'UA'")
    return _validate(records, region)


def _validate(records: Iterable[Record | RejectedRow], region: str) -> Iterator[ContactRow | RejectedRow]:
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
        first = seen.first_line(int(phone), line)
        if first:
            yield RejectedRow(line, phone_cell, fio_cell, f"duplicate of line {first}")
        else:
            yield ContactRow(line, phone, fio)


#: the highest line a row from code may name: a line is a bit in the job's ledger (12.5 MB at most)
MAX_LINE = 100_000_000


class DuplicateLine(ValueError):
    """Two rows from code name the same line: they would share one slot in the job's ledger."""


def records_from_dicts(rows: Iterable[Mapping[str, Any]], *, start: int = 1) -> Iterator[Record]:
    """Adapt `{"phone": ..., "fio": ...}` mappings to records for `validate_contacts`.

    The line is the row's position counted from `start`, unless the mapping has
    its own "line". Missing or None cells become "", other values `str()`.
    A line is the row's slot in the job's ledger: one given twice (or equal to another
    row's position) raises DuplicateLine, and one outside 1..MAX_LINE ValueError, at the
    row where it happens.
    """
    seen = SeenNumbers()
    for index, row in enumerate(rows, start):
        position = index - start  # in the caller's sequence
        line = _line(row.get("line", index), position)
        first = seen.first_line(line, position + 1)
        if first:
            raise DuplicateLine(f"rows[{first - 1}] and rows[{position}] both have line {line}: each row "
                                f"needs a line of its own (or leave `line` out: rows are then numbered by position)")
        yield (line, _cell(row.get("phone")), _cell(row.get("fio")))


def _line(value: Any, position: int) -> int:
    try:
        line = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"rows[{position}]: line {value!r} is not a whole number") from None
    if not 1 <= line <= MAX_LINE:
        raise ValueError(f"rows[{position}]: line {line} is outside 1..{MAX_LINE}")
    return line


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


__all__ = ["MAX_LINE", "DuplicateLine", "Record", "SeenNumbers", "records_from_dicts", "validate_contacts"]
