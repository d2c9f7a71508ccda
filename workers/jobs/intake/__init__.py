"""Intake of a bulk job, whatever its kind: stream a CSV (a phone and a name column, or a
table of named columns), normalise phone numbers, find repeats, and keep every reject with
its line and reason. Each kind's own checks live in workers/jobs/kinds/.

    with read_csv("contacts.csv") as records:    # CsvFormatError for a bad file
        for record in records:
            ...                                  # RawRecord(line, phone, fio) or RejectedRow

Tables with other columns (external codes, e-mails, ...): `read_table(path, columns=...,
required=...)` yields `TableRecord(line, values)` or `TableRejectedRow` (a RejectedRow).
Rows from code get their lines from `numbered`.
"""

from .csvfile import CsvFormatError, CsvRecords, RawRecord, read_csv
from .numbering import MAX_LINE, DuplicateLine, numbered
from .phones import InvalidPhone, normalize_phone
from .rows import RejectedRow
from .seen import SeenNumbers
from .table import TableRecord, TableRecords, TableRejectedRow, read_table

__all__ = [
    "MAX_LINE",
    "CsvFormatError",
    "CsvRecords",
    "DuplicateLine",
    "InvalidPhone",
    "RawRecord",
    "RejectedRow",
    "SeenNumbers",
    "TableRecord",
    "TableRecords",
    "TableRejectedRow",
    "normalize_phone",
    "numbered",
    "read_csv",
    "read_table",
]
