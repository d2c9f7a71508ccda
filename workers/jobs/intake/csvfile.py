"""Stream the records of an operator's contacts CSV, line by line.

`read_csv(path)` opens the file and checks everything that concerns the file as a
whole (readable, not empty, not binary, UTF-8 header, a phone column, at least one
data record); any problem there raises `CsvFormatError` before a row is produced,
so a job is never created for a file that cannot work. Iterating the returned
`CsvRecords` then yields, per record, either a `RawRecord(line, phone, fio)` with
the cells as found, or a `RejectedRow` for a record that cannot be read (bad
encoding, NUL bytes, too long, too few cells). One bad line never stops the file.

The lines and records are read by the machinery `read_table` shares (`lines`,
`header`, `records`): memory stays bounded by `max_line_bytes` whatever the file
holds, and `line` is the physical 1-based line where the record starts (the header
is line 1), so an operator finds it in an editor even when a quoted field spans lines.
"""

from __future__ import annotations

import io
import os
from typing import NamedTuple

from .header import Header, column_key, columns_found
from .lines import BINARY_LINE, DEFAULT_MAX_LINE_BYTES, NOT_UTF8, CsvFormatError, Lines
from .records import RecordFile
from .rows import RejectedRow

PHONE_COLUMNS = ("phone", "phone_number", "phonenumber", "telephone", "tel", "number", "телефон", "номер")
NAME_COLUMNS = ("fio", "name", "full_name", "fullname", "піб", "фио", "имя", "contact")


class RawRecord(NamedTuple):
    """One data record as found in the file, before any validation."""

    line: int
    phone: str
    fio: str


class _Layout(NamedTuple):
    header: tuple[str, ...]
    delimiter: str
    phone_index: int
    name_index: int | None

    @property
    def cells_needed(self) -> int:
        return max(self.phone_index, self.name_index or 0) + 1

    def record(self, line: int, cells: list[str]) -> RawRecord:
        fio = cells[self.name_index] if self.name_index is not None else ""
        return RawRecord(line, cells[self.phone_index], fio)

    def reject(self, line: int, cells: list[str], reason: str) -> RejectedRow:
        phone = cells[self.phone_index] if self.phone_index < len(cells) else ""
        fio = cells[self.name_index] if self.name_index is not None and self.name_index < len(cells) else ""
        return RejectedRow(line, phone, fio, reason)


class CsvRecords(RecordFile[RawRecord | RejectedRow]):
    """The records of one CSV file; iterate once.

    `read_csv` has already opened the file, validated the header and read ahead
    to the first data record. The file closes at the end of iteration, on
    `close()`, on leaving a `with` block, or when the object is dropped.
    """

    def __init__(self, path: str, stream: io.BufferedReader, layout: _Layout, lines: Lines) -> None:
        super().__init__(path, stream, layout, lines)
        self.phone_column = layout.header[layout.phone_index]
        self.name_column = None if layout.name_index is None else layout.header[layout.name_index]


def read_csv(
    path: str | os.PathLike[str],
    *,
    phone_column: str | None = None,
    name_column: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> CsvRecords:
    """Open a contacts CSV and check it as a whole; raises `CsvFormatError`.

    `phone_column`/`name_column` name the columns (case-insensitive); by default
    the first header matching `PHONE_COLUMNS`/`NAME_COLUMNS` is used. The name
    column is optional. Raises when the file has a header but no data record.
    """
    return CsvRecords.from_path(
        path, max_line_bytes=max_line_bytes,
        layout=lambda header, shown: _layout(header, shown, phone_column, name_column))


def _layout(header: Header, path: str, phone_column: str | None, name_column: str | None) -> _Layout:
    phone_index = _find_column(header, phone_column, PHONE_COLUMNS, path, "phone")
    if phone_index is None:
        raise CsvFormatError(f"{path}: no phone column; {columns_found(header.names)}; name it with --phone-column")
    name_index = _find_column(header, name_column, NAME_COLUMNS, path, "name")
    return _Layout(header.names, header.delimiter, phone_index, name_index)


def _find_column(header: Header, wanted: str | None, aliases: tuple[str, ...], path: str, what: str) -> int | None:
    keys = header.keys
    if wanted is not None:
        key = column_key(wanted)
        if key in keys:
            return keys.index(key)
        raise CsvFormatError(f"{path}: no column {wanted!r} for the {what}; {columns_found(header.names)}")
    for alias in aliases:
        if alias in keys:
            return keys.index(alias)
    return None


__all__ = [
    "BINARY_LINE",
    "DEFAULT_MAX_LINE_BYTES",
    "NAME_COLUMNS",
    "NOT_UTF8",
    "PHONE_COLUMNS",
    "CsvFormatError",
    "CsvRecords",
    "RawRecord",
    "read_csv",
]
