"""Stream a CSV table whose columns are found by name: the reader of bulk jobs whose rows
are more than a phone and a name (an Obzvonilka contact, a Ringostat miniCRM contact).

    columns = {"external_code": ("external_code", "code"), "phone": ("phone", "phone1"),
               "name": ("name", "fio")}
    with read_table("contacts.csv", columns=columns, required=("external_code", "phone")) as records:
        for item in records:        # TableRecord(line, values) or TableRejectedRow
            ...

`columns` maps each logical column to the header names it may have (matched like
read_csv's: case-insensitive, spaces and dashes as `_`; the first alias present wins,
and a header column serves only the first logical column that names it). A `required`
column missing from the header is a `CsvFormatError`, raised before any row, as are all
of read_csv's file-level problems (empty, binary, not UTF-8, header only, ...).

Everything about lines is the machinery read_csv shares (`lines`, `header`, `records`):
BOM, delimiter detection, physical line numbers, bounded memory on huge lines, and the
per-line rejects (not UTF-8, NUL bytes, too long, bad quoting). `values` holds every
logical column, with "" for one the header lacks; cells are as found, unstripped.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .header import Header, column_key, columns_found
from .lines import DEFAULT_MAX_LINE_BYTES, CsvFormatError, Lines
from .records import RecordFile
from .rows import MAX_REJECT_CELL_CHARS, RejectedRow

#: logical columns whose cells also fill RejectedRow's own `phone` and `fio`
_PHONE_KEYS = ("phone", "phone1")
_NAME_KEYS = ("name", "fio")


@dataclass(frozen=True, slots=True)
class TableRecord:
    """One data record: `line` where it starts (header = line 1), cells by logical column."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class TableRejectedRow(RejectedRow):
    """A RejectedRow that also keeps whatever cells could be read, by logical column.

    `phone`/`fio` repeat the logical `phone` (or `phone1`) and `name` (or `fio`) cells, so
    code written for RejectedRow (the producer, reports) works unchanged.
    """

    values: dict[str, str] = field(default_factory=dict)

    def as_record(self) -> dict:
        return {"line": self.line, **self.values, "reason": self.reason}


def rejected(line: int, values: Mapping[str, str], reason: str) -> TableRejectedRow:
    """A reject from cells by logical column, each cut to MAX_REJECT_CELL_CHARS."""
    cut = {name: cell[:MAX_REJECT_CELL_CHARS] for name, cell in values.items()}
    phone = next((cut[key] for key in _PHONE_KEYS if cut.get(key)), "")
    fio = next((cut[key] for key in _NAME_KEYS if cut.get(key)), "")
    return TableRejectedRow(line, phone, fio, reason, cut)


class _TableLayout(NamedTuple):
    header: tuple[str, ...]
    delimiter: str
    names: tuple[str, ...]  #: every logical column, in the caller's order
    indexes: dict[str, int]  #: logical column -> cell index, for those the header has
    cells_needed: int  #: a record shorter than this lacks a required cell

    def record(self, line: int, cells: list[str]) -> TableRecord:
        return TableRecord(line, self._values(cells))

    def reject(self, line: int, cells: list[str], reason: str) -> TableRejectedRow:
        return rejected(line, self._values(cells), reason)

    def _values(self, cells: list[str]) -> dict[str, str]:
        values = dict.fromkeys(self.names, "")
        for name, index in self.indexes.items():
            if index < len(cells):  # optional cells past the end of a short record stay empty
                values[name] = cells[index]
        return values


class TableRecords(RecordFile[TableRecord | TableRejectedRow]):
    """The records of one table file; iterate once. Closed at the end of iteration, by
    `close()`, by leaving a `with` block or when dropped. Counters are final once
    iteration ends."""

    def __init__(self, path: str, stream: io.BufferedReader, layout: _TableLayout, lines: Lines) -> None:
        super().__init__(path, stream, layout, lines)
        #: logical column -> the header name it was found under, None when absent
        self.columns: dict[str, str | None] = {
            name: layout.header[layout.indexes[name]] if name in layout.indexes else None for name in layout.names
        }


def read_table(
    path: str | os.PathLike[str],
    *,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> TableRecords:
    """Open a table CSV and check it as a whole; raises `CsvFormatError` (file) or
    `ValueError` (a `required` name that is not in `columns`)."""
    _check_spec(columns, required)
    return TableRecords.from_path(path, max_line_bytes=max_line_bytes,
                                  layout=lambda header, shown: _layout(header, shown, columns, required))


def _check_spec(columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> None:
    if not columns:
        raise ValueError("columns must name at least one column")
    if isinstance(required, str):
        raise ValueError("required must be a tuple of column names, not a string")
    unknown = [name for name in required if name not in columns]
    if unknown:
        raise ValueError(f"required columns {unknown} are not in columns {sorted(columns)}")


def _layout(header: Header, path: str, columns: dict[str, tuple[str, ...]],
            required: tuple[str, ...]) -> _TableLayout:
    indexes: dict[str, int] = {}
    for name, aliases in columns.items():
        index = _find(header.keys, aliases, taken=set(indexes.values()))
        if index is not None:
            indexes[name] = index
    missing = [name for name in required if name not in indexes]
    if missing:
        looked_for = "; ".join(f"{name}: {', '.join(columns[name])}" for name in missing)
        raise CsvFormatError(f"{path}: no {' or '.join(missing)} column (header names accepted: {looked_for}); "
                             f"{columns_found(header.names)}")
    cells_needed = max((indexes[name] for name in required), default=0) + 1
    return _TableLayout(header.names, header.delimiter, tuple(columns), indexes, cells_needed)


def _find(keys: list[str], aliases: tuple[str, ...], taken: set[int]) -> int | None:
    for alias in aliases:
        key = column_key(alias)
        for index, found in enumerate(keys):
            if found == key and index not in taken:
                return index
    return None


__all__ = ["TableRecord", "TableRecords", "TableRejectedRow", "read_table", "rejected"]
