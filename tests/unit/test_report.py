"""write_report: a CSV an operator opens in a spreadsheet without running formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tasks.ringostat import CampaignChunkRow
from workers.jobs.intake import read_csv
from workers.jobs.kinds.ringostat_campaign import validate_contacts
from workers.jobs.registry import kind_of
from workers.jobs.report import escape_cell, write_report

COLUMNS = kind_of("ringostat-campaign").report_columns


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+380930000000", "'+380930000000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Іван Петренко", "Іван Петренко"),
        ("380930000000", "380930000000"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_cells_starting_like_a_formula_are_escaped(cell: object, expected: str) -> None:
    assert escape_cell(cell) == expected


def test_report_has_the_columns_and_escaped_rows() -> None:
    out = io.StringIO(newline="")
    rows = [
        {"line": 3, "phone": "+380 93", "fio": "=cmd|' /C calc'!A0", "status": "rejected", "reason": "too short"},
        {"line": 9, "phone": "0930000000", "fio": 'a,"b"', "status": "failed", "extra": "ignored"},
    ]

    count = write_report(rows, out, columns=COLUMNS)

    assert count == 2
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert parsed[0] == list(COLUMNS)
    assert parsed[1] == ["3", "'+380 93", "'=cmd|' /C calc'!A0", "rejected", "too short"]
    assert parsed[2] == ["9", "0930000000", 'a,"b"', "failed", ""]
    assert not out.getvalue().startswith("\ufeff")


def test_report_to_a_path_has_a_bom_and_loads_back(tmp_path: Path) -> None:
    # Given a report written to a file, as the CLI does
    path = tmp_path / "report.csv"
    write_report([{"line": 2, "phone": "+380 93 000 00 00", "fio": "Ганна", "status": "rejected"}], path, columns=COLUMNS)

    # Then Excel gets its BOM, and the fixed report reloads as a job file
    assert path.read_bytes().startswith(b"\xef\xbb\xbfline,phone,fio")
    rows = list(validate_contacts(read_csv(path)))
    assert rows == [CampaignChunkRow(2, "380930000000", "Ганна")]


def test_empty_report_still_has_a_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"

    assert write_report([], path, columns=COLUMNS) == 0
    assert path.read_text(encoding="utf-8-sig").splitlines() == [",".join(COLUMNS)]
