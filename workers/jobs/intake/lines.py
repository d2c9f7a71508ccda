"""The physical lines of an uploaded file, read with bounded memory and numbered.

    stream = open_file(path)                    # CsvFormatError: missing, a directory, ...
    lines = Lines(stream, line_no=1, max_line_bytes=DEFAULT_MAX_LINE_BYTES)
    for text in lines: ...                      # or BadLine for a line that cannot be read

`Lines` reads with `readline(limit)`, so memory stays bounded by `max_line_bytes`
whatever the file holds. A line that is too long, holds NUL bytes or is not UTF-8
raises `BadLine` from `__next__`; the caller (csv.reader, or a JSON-lines loop)
drops that record and reads on. Shared by `read_csv`, `read_table` and the Ringostat
contacts reader.
"""

from __future__ import annotations

import io

DEFAULT_MAX_LINE_BYTES = 64 * 1024

NOT_UTF8 = "not valid UTF-8 (is the file saved in another encoding, e.g. cp1251?)"
BINARY_LINE = "binary data in line"


class CsvFormatError(ValueError):
    """The file as a whole cannot be loaded; the message is one line for the operator."""


class BadLine(Exception):
    """Raised by `Lines` through `csv.reader` to drop the record being read."""

    def __init__(self, line: int, reason: str, raw: bytes, *, whole_record: bool = False) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason
        self.raw = raw
        self.whole_record = whole_record  #: the reason describes the record, not this line


class Lines:
    """Feeds decoded physical lines to `csv.reader` and keeps bad ones out of it.

    An iterator class rather than a generator: raising `BadLine` from `__next__`
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

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline(self._max + 1)
        if not raw:
            raise StopIteration
        self.line_no += 1
        if len(raw) > self._max and not raw.endswith(b"\n"):
            self._skip_rest_of_line()
            raise BadLine(self.line_no, f"line longer than {self._max} bytes", raw)
        if b"\x00" in raw:
            raise BadLine(self.line_no, BINARY_LINE, raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadLine(self.line_no, NOT_UTF8, raw) from None
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
                raise BadLine(self.line_no, reason, b"", whole_record=True)
        return text

    def _skip_rest_of_line(self) -> None:
        # Chunk by chunk: a several-MB line is never held whole.
        while True:
            chunk = self._stream.readline(self._max)
            if not chunk or chunk.endswith(b"\n"):
                return


def open_file(path: str) -> io.BufferedReader:
    """Open an upload for binary reading; any failure is a `CsvFormatError` naming it."""
    try:
        return open(path, "rb")  # noqa: SIM115 - the records object owns and closes it
    except FileNotFoundError:
        raise CsvFormatError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CsvFormatError(f"{path}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise CsvFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


__all__ = ["BINARY_LINE", "DEFAULT_MAX_LINE_BYTES", "NOT_UTF8", "BadLine", "CsvFormatError", "Lines", "open_file"]
