"""Stream the records of an operator's contacts CSV, line by line.

`read_csv(path)` opens the file and checks everything that concerns the file as a
whole (readable, not empty, not binary, UTF-8 header, a phone column, at least one
data record); any problem there raises `CsvFormatError` before a row is produced,
so a job is never created for a file that cannot work. Iterating the returned
`CsvRecords` then yields, per record, either a `RawRecord(line, phone, fio)` with
the cells as found, or a `RejectedRow` for a record that cannot be read (bad
encoding, NUL bytes, too long, too few cells). One bad line never stops the file.

The file is read with `readline(limit)`, so memory stays bounded by
`max_line_bytes` whatever the file holds. `line` is the physical 1-based line
where the record starts (the header is line 1), so an operator finds it in an
editor even when a quoted field spans lines.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from typing import NamedTuple

from .rows import RejectedRow

PHONE_COLUMNS = ("phone", "phone_number", "phonenumber", "telephone", "tel", "number", "телефон", "номер")
NAME_COLUMNS = ("fio", "name", "full_name", "fullname", "піб", "фио", "имя", "contact")
DEFAULT_MAX_LINE_BYTES = 64 * 1024

NOT_UTF8 = "not valid UTF-8 (is the file saved in another encoding, e.g. cp1251?)"
BINARY_LINE = "binary data in line"

_DELIMITERS = (",", ";", "\t")
_BOM = b"\xef\xbb\xbf"
# Formats operators upload by mistake, recognised by their first bytes.
_SIGNATURES = (
    (b"\xff\xfe", "UTF-16 text (Excel 'Unicode text'); save it as 'CSV UTF-8'"),
    (b"\xfe\xff", "UTF-16 text; save it as 'CSV UTF-8'"),
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook, not CSV; save it as 'CSV UTF-8'"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook, not CSV; save it as 'CSV UTF-8'"),
    (b"\x89PNG", "a PNG image, not CSV"),
    (b"\xff\xd8\xff", "a JPEG image, not CSV"),
    (b"%PDF", "a PDF document, not CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
)


class CsvFormatError(ValueError):
    """The file as a whole cannot be loaded; the message is one line for the operator."""


class RawRecord(NamedTuple):
    """One data record as found in the file, before any validation."""

    line: int
    phone: str
    fio: str


class _BadLine(Exception):
    """Raised by `_Lines` through `csv.reader` to drop the record being read."""

    def __init__(self, line: int, reason: str, raw: bytes, *, whole_record: bool = False) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason
        self.raw = raw
        self.whole_record = whole_record  #: the reason describes the record, not this line


class _Lines:
    """Feeds decoded physical lines to `csv.reader` and keeps bad ones out of it.

    An iterator class rather than a generator: raising `_BadLine` from `__next__`
    aborts only the record `csv.reader` is assembling (it resets on its next
    call), whereas an exception out of a generator would end the generator.
    """

    def __init__(self, stream: io.BufferedReader, *, line_no: int, max_line_bytes: int) -> None:
        self._stream = stream
        self._max = max_line_bytes
        self.line_no = line_no  #: physical number of the last line read
        self.record_start = 0  #: line where the current record began; 0 before its first line
        self._record_bytes = 0

    def start_record(self) -> None:
        self.record_start = 0
        self._record_bytes = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline(self._max + 1)
        if not raw:
            raise StopIteration
        self.line_no += 1
        if len(raw) > self._max and not raw.endswith(b"\n"):
            self._skip_rest_of_line()
            raise _BadLine(self.line_no, f"line longer than {self._max} bytes", raw)
        if b"\x00" in raw:
            raise _BadLine(self.line_no, BINARY_LINE, raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _BadLine(self.line_no, NOT_UTF8, raw) from None
        if not self.record_start:
            self.record_start = self.line_no
        else:
            # Only a quoted field spanning lines gets here; an unclosed quote would
            # otherwise swallow the rest of the file into one record.
            self._record_bytes += len(raw)
            if self._record_bytes > self._max:
                reason = (
                    f"quoted field not closed: lines {self.record_start}-{self.line_no} "
                    f"make a record longer than {self._max} bytes"
                )
                raise _BadLine(self.line_no, reason, b"", whole_record=True)
        return text

    def _skip_rest_of_line(self) -> None:
        # Chunk by chunk: a several-MB line is never held whole.
        while True:
            chunk = self._stream.readline(self._max)
            if not chunk or chunk.endswith(b"\n"):
                return


class _Layout(NamedTuple):
    header: tuple[str, ...]
    delimiter: str
    phone_index: int
    name_index: int | None


class _RecordReader:
    """Turns the lines into records and rejects, counting them.

    Kept apart from `CsvRecords` so its generator does not point back at the
    object holding it: without that cycle, dropping a `CsvRecords` frees the
    generator at once, and its `finally` closes the file.
    """

    def __init__(self, stream: io.BufferedReader, layout: _Layout, lines: _Lines) -> None:
        self.records_read = 0
        self.rejected = 0
        self._stream = stream
        self._layout = layout
        self._lines = lines

    def records(self) -> Iterator[RawRecord | RejectedRow]:
        try:
            yield from self._parse()
        finally:
            self._stream.close()

    def _parse(self) -> Iterator[RawRecord | RejectedRow]:
        lines = self._lines
        # strict: an unclosed quote at the end of the file, or text after a closing
        # quote, rejects the record instead of silently merging lines into a cell.
        reader = csv.reader(lines, delimiter=self._layout.delimiter, strict=True)
        phone_index, name_index = self._layout.phone_index, self._layout.name_index
        cells_needed = max(phone_index, name_index or 0) + 1
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
            if len(cells) < cells_needed:
                if any(cell.strip() for cell in cells):
                    yield self._reject(lines.record_start, cells, _too_few(cells_needed, len(cells)))
                continue  # blank line, or a blank record such as ";;"
            phone = cells[phone_index]
            if not phone.strip() and not any(cell.strip() for cell in cells):
                continue
            self.records_read += 1
            fio = cells[name_index] if name_index is not None else ""
            yield RawRecord(lines.record_start, phone, fio)

    def _reject_bad_line(self, bad: _BadLine, record_start: int) -> RejectedRow:
        if record_start:
            # The bad line sat inside a quoted field: the whole record goes.
            reason = bad.reason if bad.whole_record else f"{bad.reason} at line {bad.line}, inside a quoted field"
            return self._reject(record_start, [], reason)
        return self._reject(bad.line, _salvage_cells(bad.raw, self._layout.delimiter), bad.reason)

    def _reject(self, line: int, cells: list[str], reason: str) -> RejectedRow:
        self.records_read += 1
        self.rejected += 1
        phone_index, name_index = self._layout.phone_index, self._layout.name_index
        phone = cells[phone_index] if phone_index < len(cells) else ""
        fio = cells[name_index] if name_index is not None and name_index < len(cells) else ""
        return RejectedRow(line, phone, fio, reason)


class CsvRecords:
    """The records of one CSV file; iterate once.

    `read_csv` has already opened the file, validated the header and read ahead
    to the first data record. The file closes at the end of iteration, on
    `close()`, on leaving a `with` block, or when the object is dropped.
    """

    def __init__(self, path: str, stream: io.BufferedReader, layout: _Layout, lines: _Lines) -> None:
        self.path = path
        self.header = layout.header
        self.delimiter = layout.delimiter
        self.phone_column = layout.header[layout.phone_index]
        self.name_column = None if layout.name_index is None else layout.header[layout.name_index]
        self._lines = lines
        self._reader = _RecordReader(stream, layout, lines)
        self._records = self._reader.records()
        self._started = False
        self._first = self._read_ahead()

    @property
    def records_read(self) -> int:
        """Non-blank data records read so far, rejected ones included."""
        return self._reader.records_read

    @property
    def rejected(self) -> int:
        """Of `records_read`, how many were yielded as `RejectedRow`."""
        return self._reader.rejected

    @property
    def lines_read(self) -> int:
        """Physical lines consumed so far, header and blank lines included."""
        return self._lines.line_no

    def __iter__(self) -> Iterator[RawRecord | RejectedRow]:
        if self._started:
            raise RuntimeError("CsvRecords can be iterated only once")
        self._started = True
        try:
            yield self._first
            yield from self._records
        finally:
            self.close()

    def close(self) -> None:
        self._records.close()  # runs its finally: the file closes

    def __enter__(self) -> CsvRecords:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_ahead(self) -> RawRecord | RejectedRow:
        # Knowing there is at least one record lets "header but no data" be a
        # file-level error like the others, raised before the job is created.
        try:
            return next(self._records)
        except StopIteration:
            raise CsvFormatError(f"{self.path}: no data rows after the header") from None


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
    if max_line_bytes < 1:
        raise ValueError("max_line_bytes must be positive")
    shown = os.fspath(path)
    stream = _open(shown)
    try:
        header_line, header_text = _read_header(stream, shown, max_line_bytes)
        layout = _layout(header_text, shown, phone_column, name_column)
        lines = _Lines(stream, line_no=header_line, max_line_bytes=max_line_bytes)
        return CsvRecords(shown, stream, layout, lines)
    except BaseException:
        stream.close()
        raise


def _open(path: str) -> io.BufferedReader:
    try:
        return open(path, "rb")  # noqa: SIM115 - CsvRecords owns and closes it
    except FileNotFoundError:
        raise CsvFormatError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CsvFormatError(f"{path}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise CsvFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def _read_header(stream: io.BufferedReader, path: str, max_line_bytes: int) -> tuple[int, str]:
    """Return the header's line number and text; blank lines before it are skipped."""
    try:
        start = stream.peek(8)[:8]
    except OSError as exc:
        raise CsvFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    for signature, what in _SIGNATURES:
        if start.startswith(signature):
            raise CsvFormatError(f"{path}: the file is {what}")
    line_no = 0
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            raise CsvFormatError(f"{path}: the file is empty")
        line_no += 1
        if line_no == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        if _looks_binary(raw):
            raise CsvFormatError(f"{path}: binary data, not a CSV text file")
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            raise CsvFormatError(f"{path}: first line is longer than {max_line_bytes} bytes; is this a CSV file?")
        text = _decode_header(raw, path)
        if text.strip():
            return line_no, text


def _decode_header(raw: bytes, path: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        raise CsvFormatError(
            f"{path}: header is not valid UTF-8 (byte 0x{bad:02x} at position {exc.start})"
            f"{_encoding_guess(raw)}; save the file as 'CSV UTF-8'"
        ) from None
    body = text.rstrip("\r\n")
    unprintable = sum(1 for char in body if not char.isprintable() and char not in "\t\r")
    if unprintable * 2 > len(body):
        raise CsvFormatError(f"{path}: binary data, not a CSV text file")
    if "\r" in body:
        raise CsvFormatError(f"{path}: lines end with CR only (old Mac format); save with LF or CRLF line ends")
    return text


def _looks_binary(raw: bytes) -> bool:
    """NUL bytes, or control bytes in text that is not UTF-8 or is mostly controls.

    A text header (UTF-8 or another encoding) has no control bytes but tab and
    line ends, so either sign is enough.
    """
    if b"\x00" in raw:
        return True
    body = raw.rstrip(b"\r\n")
    controls = sum(1 for byte in body if (byte < 0x20 and byte not in (0x09, 0x0D)) or byte == 0x7F)
    if not controls:
        return False
    if controls > len(body) // 10:
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _encoding_guess(raw: bytes) -> str:
    """Name the encoding an operator most likely used, if the bytes say so."""
    text = raw.decode("cp1251", errors="replace")
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    cyrillic = sum(1 for ch in non_ascii if "\u0400" <= ch <= "\u04ff")
    if non_ascii and cyrillic / len(non_ascii) > 0.8:
        return ", looks like Windows-1251 (cp1251)"
    return ""


def _layout(header_text: str, path: str, phone_column: str | None, name_column: str | None) -> _Layout:
    delimiter = _detect_delimiter(header_text)
    header = tuple(next(csv.reader([header_text], delimiter=delimiter)))
    keys = [_column_key(name) for name in header]
    phone_index = _find_column(keys, header, phone_column, PHONE_COLUMNS, path, "phone")
    if phone_index is None:
        raise CsvFormatError(f"{path}: no phone column; {_columns_found(header)}; name it with --phone-column")
    name_index = _find_column(keys, header, name_column, NAME_COLUMNS, path, "name")
    return _Layout(header, delimiter, phone_index, name_index)


def _detect_delimiter(header_text: str) -> str:
    counts = {delimiter: header_text.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])  # ties: first listed
    return best if counts[best] else ","


def _column_key(name: str) -> str:
    return name.strip().casefold().replace(" ", "_").replace("-", "_")


def _find_column(
    keys: list[str], header: tuple[str, ...], wanted: str | None, aliases: tuple[str, ...], path: str, what: str
) -> int | None:
    if wanted is not None:
        key = _column_key(wanted)
        if key in keys:
            return keys.index(key)
        raise CsvFormatError(f"{path}: no column {wanted!r} for the {what}; {_columns_found(header)}")
    for alias in aliases:
        if alias in keys:
            return keys.index(alias)
    return None


def _columns_found(header: tuple[str, ...]) -> str:
    shown = ", ".join(repr(_shorten(name)) for name in header[:20])
    more = f" and {len(header) - 20} more" if len(header) > 20 else ""
    hint = " (the first line looks like data: add a header line such as 'phone;fio')" if _looks_like_data(header) else ""
    return f"columns found: {shown}{more}{hint}"


def _shorten(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _looks_like_data(header: tuple[str, ...]) -> bool:
    return any(sum(ch.isdigit() for ch in name) >= 7 for name in header)


def _csv_error_reason(exc: csv.Error, lines: _Lines) -> str:
    message = str(exc)
    if "unexpected end of data" in message:
        return f"quoted field not closed: lines {lines.record_start}-{lines.line_no} up to the end of the file"
    return f"malformed CSV record: {message}"


def _too_few(needed: int, found: int) -> str:
    return f"too few cells: expected at least {needed}, found {found}"


def _salvage_cells(raw: bytes, delimiter: str) -> list[str]:
    """Best-effort cells of a rejected line, so the report shows what it held."""
    text = raw.decode("utf-8", errors="replace").replace("\x00", "")
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:  # e.g. a lone CR inside the line
        return []


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
