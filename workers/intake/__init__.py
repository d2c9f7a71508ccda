"""Intake of a bulk job: stream a contacts CSV, validate and normalise its rows,
drop duplicate numbers, and keep every reject with its line and reason.

    records = read_csv("contacts.csv")           # CsvFormatError for a bad file
    for row in validate_contacts(records, region="UA"):
        ...                                      # ContactRow or RejectedRow
"""

from .csvfile import CsvFormatError, CsvRecords, RawRecord, read_csv
from .phones import InvalidPhone, normalize_phone
from .rows import ContactRow, RejectedRow
from .validate import SeenNumbers, records_from_dicts, validate_contacts

__all__ = [
    "ContactRow",
    "CsvFormatError",
    "CsvRecords",
    "InvalidPhone",
    "RawRecord",
    "RejectedRow",
    "SeenNumbers",
    "normalize_phone",
    "read_csv",
    "records_from_dicts",
    "validate_contacts",
]
