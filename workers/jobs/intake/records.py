"""The records of an uploaded CSV: the loop and the container `read_csv` and `read_table` share.

    records = MyRecords.from_path(path, max_line_bytes=..., layout=my_layout)
    for item in records:        # whatever the layout's record() / reject() build
        ...

`read_records` turns `Lines` into records: `Cells(line, cells)` for a non-blank record
with at least `cells_needed` cells, `BadRecord(line, cells, reason)` for one that cannot
be read (a `BadLine`, bad quoting, too few cells). Blank records are skipped; one bad
line never stops the file. `RecordFile` opens the file, checks its header, reads ahead
to the first record, counts, and closes the file once done; a subclass brings a layout
whose `record()`/`reject()` build its own row types.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from typing import Generic, NamedTuple, Protocol, TypeVar

from .header import Header, parse_header, read_header
from .lines import BadLine, CsvFormatError, Lines, open_file

ItemT = TypeVar("ItemT")
ItemT_co = TypeVar("ItemT_co", covariant=True)
RecordsT = TypeVar("RecordsT", bound="RecordFile")


class Cells(NamedTuple):
    """A record worth converting: `line` where it starts (header = line 1), its cells."""

    line: int
    cells: list[str]


class BadRecord(NamedTuple):
    """A record that cannot be used: whatever cells could be read, and why."""

    line: int
    cells: list[str]
    reason: str


class Layout(Protocol[ItemT_co]):
    """Where a reader finds its columns, and how it builds its rows from cells."""

    @property
    def header(self) -> tuple[str, ...]: ...

    @property
    def delimiter(self) -> str: ...

    @property
    def cells_needed(self) -> int: ...

    def record(self, line: int, cells: list[str]) -> ItemT_co: ...

    def reject(self, line: int, cells: list[str], reason: str) -> ItemT_co: ...


def read_records(lines: Lines, *, delimiter: str, cells_needed: int) -> Iterator[Cells | BadRecord]:
    """The non-blank records of `lines` (positioned after the header), good or bad."""
    # strict: an unclosed quote at the end of the file, or text after a closing
    # quote, rejects the record instead of silently merging lines into a cell.
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        lines.start_record()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except BadLine as bad:
            yield _bad_line(bad, lines.record_start, delimiter)
            continue
        except csv.Error as exc:
            yield BadRecord(lines.record_start or lines.line_no, [], _csv_error_reason(exc, lines))
            continue
        if not any(cell.strip() for cell in cells):
            continue  # blank line, or a blank record such as ";;"
        if len(cells) < cells_needed:
            reason = f"too few cells: expected at least {cells_needed}, found {len(cells)}"
            yield BadRecord(lines.record_start, cells, reason)
            continue
        yield Cells(lines.record_start, cells)


class _Counter(Generic[ItemT]):
    """Builds and counts the rows, and closes the file when they end.

    Kept apart from `RecordFile` so its generator does not point back at the
    object holding it: without that cycle, dropping a `RecordFile` frees the
    generator at once, and its `finally` closes the file.
    """

    def __init__(self, stream: io.BufferedReader, layout: Layout[ItemT], lines: Lines) -> None:
        self.records_read = 0
        self.rejected = 0
        self._stream = stream
        self._layout = layout
        self._lines = lines

    def records(self) -> Iterator[ItemT]:
        layout = self._layout
        try:
            for item in read_records(self._lines, delimiter=layout.delimiter, cells_needed=layout.cells_needed):
                self.records_read += 1
                if isinstance(item, BadRecord):
                    self.rejected += 1
                    yield layout.reject(*item)
                else:
                    yield layout.record(*item)
        finally:
            self._stream.close()


class RecordFile(Generic[ItemT]):
    """The records of one file; iterate once.

    The file is open, its header checked, and the first record read ahead. It
    closes at the end of iteration, on `close()`, on leaving a `with` block, or
    when the object is dropped.
    """

    def __init__(self, path: str, stream: io.BufferedReader, layout: Layout[ItemT], lines: Lines) -> None:
        self.path = path
        self.header = layout.header
        self.delimiter = layout.delimiter
        self._stream = stream
        self._lines = lines
        self._counter = _Counter(stream, layout, lines)
        self._records = self._counter.records()
        self._started = False
        self._first = self._read_ahead()

    @classmethod
    def from_path(cls: type[RecordsT], path: str | os.PathLike[str], *, max_line_bytes: int,
                  layout: Callable[[Header, str], Layout]) -> RecordsT:
        """Open `path`, check it as a whole, find its `layout(header, path)`; raises
        `CsvFormatError` for the file and `ValueError` for a `max_line_bytes` below 1."""
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        shown = os.fspath(path)
        stream = open_file(shown)
        try:
            header_line, header_text = read_header(stream, shown, max_line_bytes)
            found = layout(parse_header(header_text), shown)
            lines = Lines(stream, line_no=header_line, max_line_bytes=max_line_bytes)
            return cls(shown, stream, found, lines)
        except BaseException:
            stream.close()
            raise

    @property
    def records_read(self) -> int:
        """Non-blank data records read so far, rejected ones included."""
        return self._counter.records_read

    @property
    def rejected(self) -> int:
        """Of `records_read`, how many were yielded as rejects."""
        return self._counter.rejected

    @property
    def lines_read(self) -> int:
        """Physical lines consumed so far, header and blank lines included."""
        return self._lines.line_no

    def __iter__(self) -> Iterator[ItemT]:
        if self._started:
            raise RuntimeError(f"{type(self).__name__} can be iterated only once")
        self._started = True
        try:
            yield self._first
            yield from self._records
        finally:
            self.close()

    def close(self) -> None:
        self._records.close()  # runs its finally: the file closes

    def __enter__(self: RecordsT) -> RecordsT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_ahead(self) -> ItemT:
        # Knowing there is at least one record lets "header but no data" be a
        # file-level error like the others, raised before the job is created.
        try:
            return next(self._records)
        except StopIteration:
            raise CsvFormatError(f"{self.path}: no data rows after the header") from None


def _bad_line(bad: BadLine, record_start: int, delimiter: str) -> BadRecord:
    if record_start:
        # The bad line sat inside a quoted field: the whole record goes.
        reason = bad.reason if bad.whole_record else f"{bad.reason} at line {bad.line}, inside a quoted field"
        return BadRecord(record_start, [], reason)
    return BadRecord(bad.line, _salvage_cells(bad.raw, delimiter), bad.reason)


def _csv_error_reason(exc: csv.Error, lines: Lines) -> str:
    message = str(exc)
    if "unexpected end of data" in message:
        return f"quoted field not closed: lines {lines.record_start}-{lines.line_no} up to the end of the file"
    return f"malformed CSV record: {message}"


def _salvage_cells(raw: bytes, delimiter: str) -> list[str]:
    """Best-effort cells of a rejected line, so the report shows what it held."""
    text = raw.decode("utf-8", errors="replace").replace("\x00", "")
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:  # e.g. a lone CR inside the line
        return []


__all__ = ["BadRecord", "Cells", "Layout", "RecordFile", "read_records"]
