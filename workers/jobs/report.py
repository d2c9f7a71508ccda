"""The job report: failed and rejected rows as a CSV an operator fixes and reloads.

Operators open it in Excel or LibreOffice, which run a cell starting with `=`,
`+`, `-` or `@` as a formula, and the cells come from an uploaded file or a
vendor's answer. Such cells are prefixed with `'` (OWASP, "CSV Injection"),
which the spreadsheet shows as text. A phone like `+380...` gets the prefix too:
intended, and a fixed report still loads, as the phone parser skips the `'`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

# Tab and CR too: some spreadsheets strip them and then see the formula behind.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> str:
    """The cell as text, made inert for spreadsheets."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_report(
    rows: Iterable[Mapping[str, Any]],
    out: TextIO | str | os.PathLike[str],
    *,
    columns: tuple[str, ...],
    delimiter: str = ",",
) -> int:
    """Write `rows` (mappings with keys from `columns`: the job kind's report_columns) as CSV;
    return how many.

    A path is written as UTF-8 with a BOM, so Excel shows Cyrillic names right
    (the loader accepts the BOM); an open stream is written as it is set up,
    and should be opened with `newline=""`. Missing keys give empty cells and
    other keys are ignored.
    """
    if isinstance(out, (str, os.PathLike)):
        with open(out, "w", encoding="utf-8-sig", newline="") as stream:
            return _write(rows, stream, delimiter, columns)
    return _write(rows, out, delimiter, columns)


def _write(rows: Iterable[Mapping[str, Any]], stream: TextIO, delimiter: str, columns: tuple[str, ...]) -> int:
    writer = csv.writer(stream, delimiter=delimiter)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([escape_cell(row.get(column)) for column in columns])
        count += 1
    return count


__all__ = ["escape_cell", "write_report"]
