"""The campaign kind's checks (validate_contacts): rows to send or rows to reject, each number once per job."""

from __future__ import annotations

import dataclasses
import runpy
from pathlib import Path

import pytest

from tasks.ringostat import CampaignChunkRow
from workers.jobs.intake import RawRecord, RejectedRow, normalize_phone, read_csv
from workers.jobs.kinds.ringostat_campaign import records_from_dicts, validate_contacts

ROOT = Path(__file__).resolve().parents[2]


def test_valid_rows_are_normalised_and_names_tidied() -> None:
    records = [RawRecord(2, "(093) 000-00-00", "  Іван\r\nПетренко "), RawRecord(3, "+48 512 345 678", "")]

    rows = list(validate_contacts(records))

    assert rows == [CampaignChunkRow(2, "380930000000", "Іван Петренко"), CampaignChunkRow(3, "48512345678", "")]


def test_a_fio_over_the_vendors_255_characters_is_rejected_at_intake() -> None:
    # Given names of 255 characters (after tidying) and of 256
    records = [RawRecord(2, "093 000 00 01", "Я" * 255 + "  "), RawRecord(3, "093 000 00 02", "Я" * 256)]

    rows = list(validate_contacts(records))

    # Then the first goes on, the second is refused before any send could spend a limiter slot on it
    assert rows[0] == CampaignChunkRow(2, "380930000001", "Я" * 255)
    assert isinstance(rows[1], RejectedRow) and rows[1].reason == "fio longer than 255 characters (256), the vendor's limit"
    # And it does not claim its number: a later valid row with it is not a duplicate
    later = list(validate_contacts([*records, RawRecord(4, "093 000 00 02", "Ok")]))[2]
    assert later == CampaignChunkRow(4, "380930000002", "Ok")


def test_invalid_rows_keep_the_cells_as_found_and_a_reason() -> None:
    rows = list(validate_contacts([RawRecord(7, " 0001234567", "Олег")]))

    assert rows == [RejectedRow(7, " 0001234567", "Олег", "invalid number for region UA")]


def test_second_occurrence_of_a_number_is_a_duplicate_of_the_first_line() -> None:
    records = [
        RawRecord(2, "0930000000", "A"),
        RawRecord(3, "0931111111", "B"),
        RawRecord(5, "+380 93 000 00 00", "A again"),
        RawRecord(9, "380930000000", "A thrice"),
    ]

    rows = list(validate_contacts(records))

    assert rows[:2] == [CampaignChunkRow(2, "380930000000", "A"), CampaignChunkRow(3, "380931111111", "B")]
    assert rows[2] == RejectedRow(5, "+380 93 000 00 00", "A again", "duplicate of line 2")
    assert rows[3] == RejectedRow(9, "380930000000", "A thrice", "duplicate of line 2")


def test_an_invalid_row_does_not_claim_a_number() -> None:
    rows = list(validate_contacts([RawRecord(2, "093000000", "bad"), RawRecord(3, "0930000000", "good")]))

    assert isinstance(rows[0], RejectedRow)
    assert rows[1] == CampaignChunkRow(3, "380930000000", "good")


def test_rejects_from_the_reader_pass_through_in_order() -> None:
    reject = RejectedRow(3, "", "", "binary data in line")
    records = [RawRecord(2, "0930000000", "A"), reject, RawRecord(4, "0931111111", "B")]

    rows = list(validate_contacts(records))

    assert [row.line for row in rows] == [2, 3, 4]
    assert rows[1] is reject


def test_region_applies_and_is_checked_up_front() -> None:
    assert list(validate_contacts([RawRecord(2, "512 345 678", "")], region="pl")) == [
        CampaignChunkRow(2, "48512345678", "")
    ]
    with pytest.raises(ValueError, match="unknown region 'XX'"):
        validate_contacts([], region="XX")


def test_records_from_dicts_numbers_rows_and_tolerates_loose_values() -> None:
    rows = [{"phone": "0930000000", "fio": "A"}, {"phone": 380931111111, "fio": None}, {"fio": "no phone"}]

    records = list(records_from_dicts(rows))

    assert records == [(1, "0930000000", "A"), (2, "380931111111", ""), (3, "", "no phone")]
    assert [row.reason for row in validate_contacts(records) if isinstance(row, RejectedRow)] == ["empty phone"]


def test_records_from_dicts_keeps_an_explicit_line() -> None:
    assert list(records_from_dicts([{"line": 41, "phone": "0930000000"}], start=0)) == [(41, "0930000000", "")]


def test_rows_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CampaignChunkRow(2, "380930000000", "").phone = "x"  # type: ignore[misc]


def test_generated_file_end_to_end(tmp_path: Path) -> None:
    # Given a file from the generator, with its share of bad numbers and duplicates
    path = tmp_path / "contacts.csv"
    generator = runpy.run_path(str(ROOT / "bench" / "gen_contacts.py"))  # in this process: a unit test
    assert generator["main"](["--rows", "2000", "--out", str(path), "--seed", "5", "--delimiter", ";"]) == 0

    # When it is read and validated
    records = read_csv(path)
    rows = list(validate_contacts(records))

    # Then every data line is accounted for, with its physical line number
    assert records.records_read == 2000
    assert [row.line for row in rows] == list(range(2, 2002))
    rejected = [row for row in rows if isinstance(row, RejectedRow)]
    duplicates = [row for row in rejected if row.reason.startswith("duplicate of line ")]
    assert 20 <= len(rejected) - len(duplicates) <= 80  # --bad-share 0.02
    assert 5 <= len(duplicates) <= 40  # --dup-share 0.01
    lines = path.read_text(encoding="utf-8").splitlines()
    for row in duplicates:
        first = int(row.reason.rsplit(" ", 1)[1])
        first_phone = next(r.phone for r in rows if r.line == first)
        assert row.phone == lines[row.line - 1].split(";")[0]
        assert isinstance(next(r for r in rows if r.line == first), CampaignChunkRow)
        assert first < row.line
        assert normalize_phone(row.phone, "UA") == first_phone
