"""The header line of an uploaded CSV: the file-level checks made on it, and its columns.

    line_no, text = read_header(stream, path, max_line_bytes)   # CsvFormatError for a bad file
    header = parse_header(text)                                 # Header(names, delimiter, keys)
    index = header.keys.index(column_key("Phone"))

`read_header` recognises files uploaded by mistake (spreadsheets, images, UTF-16,
binary, not UTF-8, CR-only line ends) before a row is read. Column names are
matched by `column_key`: case-insensitive, spaces and dashes as `_`.
"""

from __future__ import annotations

import csv
import io
from typing import NamedTuple

from .lines import CsvFormatError

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


class Header(NamedTuple):
    names: tuple[str, ...]  #: the cells of the header line, as found
    delimiter: str
    keys: list[str]  #: `column_key` of each name, for matching


def read_header(stream: io.BufferedReader, path: str, max_line_bytes: int) -> tuple[int, str]:
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


def parse_header(header_text: str) -> Header:
    """Split the header line on the delimiter it uses most (`,` `;` or tab; `,` if none)."""
    counts = {delimiter: header_text.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])  # ties: first listed
    delimiter = best if counts[best] else ","
    names = tuple(next(csv.reader([header_text], delimiter=delimiter)))
    return Header(names, delimiter, [column_key(name) for name in names])


def column_key(name: str) -> str:
    return name.strip().casefold().replace(" ", "_").replace("-", "_")


def columns_found(header: tuple[str, ...]) -> str:
    """The header's names for an error message, with a hint when it looks like data."""
    shown = ", ".join(repr(_shorten(name)) for name in header[:20])
    more = f" and {len(header) - 20} more" if len(header) > 20 else ""
    hint = " (the first line looks like data: add a header line such as 'phone;fio')" if _looks_like_data(header) else ""
    return f"columns found: {shown}{more}{hint}"


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


def _shorten(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _looks_like_data(header: tuple[str, ...]) -> bool:
    return any(sum(ch.isdigit() for ch in name) >= 7 for name in header)


__all__ = ["Header", "column_key", "columns_found", "parse_header", "read_header"]
