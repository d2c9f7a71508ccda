"""Intake of a bulk job: stream a contacts CSV, validate and normalise its rows,
drop duplicate numbers, and keep every reject with its line and reason.

    records = read_csv("contacts.csv")           # CsvFormatError for a bad file
    for row in validate_contacts(records, region="UA"):
        ...                                      # ContactRow or RejectedRow

Tables with other columns (external codes, e-mails, ...): `read_table(path, columns=...,
required=...)` yields `TableRecord(line, values)` or `TableRejectedRow` (a RejectedRow).
"""

from .csvfile import CsvFormatError, CsvRecords, RawRecord, read_csv
from .phones import InvalidPhone, normalize_phone
from .rows import ContactRow, RejectedRow
from .table import TableRecord, TableRecords, TableRejectedRow, read_table
from .validate import DuplicateLine, SeenNumbers, records_from_dicts, validate_contacts

__all__ = [
    "ContactRow",
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
    "read_csv",
    "read_table",
    "records_from_dicts",
    "validate_contacts",
]
