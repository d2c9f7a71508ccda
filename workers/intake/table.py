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

Everything about lines is read_csv's own machinery, imported from `csvfile`: BOM,
delimiter detection, physical line numbers, bounded memory on huge lines, and the
per-line rejects (not UTF-8, NUL bytes, too long, bad quoting). `values` holds every
logical column, with "" for one the header lacks; cells are as found, unstripped.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .csvfile import (
    DEFAULT_MAX_LINE_BYTES,
    CsvFormatError,
    _BadLine,
    _column_key,
    _columns_found,
    _csv_error_reason,
    _detect_delimiter,
    _Lines,
    _open,
    _read_header,
    _salvage_cells,
    _too_few,
)
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


class TableRecords:
    """The records of one table file; iterate once. Closed at the end of iteration, by
    `close()` or by leaving a `with` block. Counters are final once iteration ends."""

    def __init__(self, path: str, stream: io.BufferedReader, layout: _TableLayout, lines: _Lines) -> None:
        self.path = path
        self.header = layout.header
        self.delimiter = layout.delimiter
        #: logical column -> the header name it was found under, None when absent
        self.columns: dict[str, str | None] = {
            name: layout.header[layout.indexes[name]] if name in layout.indexes else None for name in layout.names
        }
        self.records_read = 0  #: non-blank records seen, rejected ones included
        self.rejected = 0  #: of those, how many were yielded as TableRejectedRow
        self._stream = stream
        self._layout = layout
        self._lines = lines
        self._records = self._read_records()
        self._started = False
        self._first = self._read_ahead()

    @property
    def lines_read(self) -> int:
        """Physical lines consumed so far, header and blank lines included."""
        return self._lines.line_no

    def __iter__(self) -> Iterator[TableRecord | TableRejectedRow]:
        if self._started:
            raise RuntimeError("TableRecords can be iterated only once")
        self._started = True
        try:
            yield self._first
            yield from self._records
        finally:
            self.close()

    def close(self) -> None:
        self._records.close()
        self._stream.close()

    def __enter__(self) -> TableRecords:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_ahead(self) -> TableRecord | TableRejectedRow:
        # As in read_csv: "header but no data" fails before a job is created.
        try:
            return next(self._records)
        except StopIteration:
            self.close()
            raise CsvFormatError(f"{self.path}: no data rows after the header") from None

    def _read_records(self) -> Iterator[TableRecord | TableRejectedRow]:
        lines = self._lines
        reader = csv.reader(lines, delimiter=self.delimiter, strict=True)  # strict: see read_csv
        needed = self._layout.cells_needed
        while True:
            lines.start_record()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except _BadLine as bad:
                yield self._reject_bad_line(bad, lines.record_start)
                continue
            except csv.Error as exc:
                yield self._reject(lines.record_start or lines.line_no, [], _csv_error_reason(exc, lines))
                continue
            if not any(cell.strip() for cell in cells):
                continue  # blank line, or a blank record such as ";;"
            if len(cells) < needed:
                yield self._reject(lines.record_start, cells, _too_few(needed, len(cells)))
                continue
            self.records_read += 1
            yield TableRecord(lines.record_start, self._values(cells))

    def _values(self, cells: list[str]) -> dict[str, str]:
        values = dict.fromkeys(self._layout.names, "")
        for name, index in self._layout.indexes.items():
            if index < len(cells):  # optional cells past the end of a short record stay empty
                values[name] = cells[index]
        return values

    def _reject_bad_line(self, bad: _BadLine, record_start: int) -> TableRejectedRow:
        if record_start:
            reason = bad.reason if bad.whole_record else f"{bad.reason} at line {bad.line}, inside a quoted field"
            return self._reject(record_start, [], reason)
        return self._reject(bad.line, _salvage_cells(bad.raw, self.delimiter), bad.reason)

    def _reject(self, line: int, cells: list[str], reason: str) -> TableRejectedRow:
        self.records_read += 1
        self.rejected += 1
        return rejected(line, self._values(cells), reason)


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
    if max_line_bytes < 1:
        raise ValueError("max_line_bytes must be positive")
    shown = os.fspath(path)
    stream = _open(shown)
    try:
        header_line, header_text = _read_header(stream, shown, max_line_bytes)
        layout = _layout(header_text, shown, columns, required)
        lines = _Lines(stream, line_no=header_line, max_line_bytes=max_line_bytes)
        return TableRecords(shown, stream, layout, lines)
    except BaseException:
        stream.close()
        raise


def _check_spec(columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> None:
    if not columns:
        raise ValueError("columns must name at least one column")
    if isinstance(required, str):
        raise ValueError("required must be a tuple of column names, not a string")
    unknown = [name for name in required if name not in columns]
    if unknown:
        raise ValueError(f"required columns {unknown} are not in columns {sorted(columns)}")


def _layout(header_text: str, path: str, columns: dict[str, tuple[str, ...]],
            required: tuple[str, ...]) -> _TableLayout:
    delimiter = _detect_delimiter(header_text)
    header = tuple(next(csv.reader([header_text], delimiter=delimiter)))
    keys = [_column_key(name) for name in header]
    indexes: dict[str, int] = {}
    for name, aliases in columns.items():
        index = _find(keys, aliases, taken=set(indexes.values()))
        if index is not None:
            indexes[name] = index
    missing = [name for name in required if name not in indexes]
    if missing:
        looked_for = "; ".join(f"{name}: {', '.join(columns[name])}" for name in missing)
        raise CsvFormatError(f"{path}: no {' or '.join(missing)} column (header names accepted: {looked_for}); "
                             f"{_columns_found(header)}")
    cells_needed = max((indexes[name] for name in required), default=0) + 1
    return _TableLayout(header, delimiter, tuple(columns), indexes, cells_needed)


def _find(keys: list[str], aliases: tuple[str, ...], taken: set[int]) -> int | None:
    for alias in aliases:
        key = _column_key(alias)
        for index, found in enumerate(keys):
            if found == key and index not in taken:
                return index
    return None


__all__ = ["TableRecord", "TableRecords", "TableRejectedRow", "read_table", "rejected"]
