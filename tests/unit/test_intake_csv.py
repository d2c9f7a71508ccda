"""read_csv: file-level problems raise before any row; line-level ones become rejects."""

from __future__ import annotations

import os
import random
import tracemalloc
from pathlib import Path

import pytest

from workers.jobs.intake import CsvFormatError, RawRecord, RejectedRow, read_csv
from workers.jobs.intake.csvfile import BINARY_LINE, NOT_UTF8


def write(tmp_path: Path, content: bytes | str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read_all(path: Path, **options) -> list[RawRecord | RejectedRow]:
    return list(read_csv(path, **options))


def rejects(items: list) -> list[RejectedRow]:
    return [item for item in items if isinstance(item, RejectedRow)]


# --- good files ---------------------------------------------------------------


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_reads_utf8_with_or_without_bom_and_any_delimiter(tmp_path: Path, bom: bytes, delimiter: str) -> None:
    text = delimiter.join(["phone", "fio"]) + "\n" + delimiter.join(["0930000000", "Іван Петренко"]) + "\n"
    path = write(tmp_path, bom + text.encode("utf-8"))

    records = read_csv(path)

    assert records.delimiter == delimiter
    assert list(records) == [RawRecord(2, "0930000000", "Іван Петренко")]


def test_header_names_match_case_insensitively_and_aliases_apply(tmp_path: Path) -> None:
    path = write(tmp_path, " Телефон ;ПІБ;Коментар\r\n+380 93 000 00 00;Ганна Коваль;VIP\r\n")

    records = read_csv(path)

    assert (records.phone_column, records.name_column) == (" Телефон ", "ПІБ")
    assert list(records) == [RawRecord(2, "+380 93 000 00 00", "Ганна Коваль")]


def test_explicit_columns_override_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "id,phone,Mobile,Client\n1,0441234567,0931111111,Олег\n")

    items = read_all(path, phone_column="MOBILE", name_column="client")

    assert items == [RawRecord(2, "0931111111", "Олег")]


def test_name_column_is_optional(tmp_path: Path) -> None:
    path = write(tmp_path, "Phone Number\n0930000000\n")

    assert read_all(path) == [RawRecord(2, "0930000000", "")]


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path: Path) -> None:
    path = write(tmp_path, "\n\nphone;fio\n\n0930000000;A\n;\n   \n0931111111;B\n")

    records = read_csv(path)
    items = list(records)

    assert items == [RawRecord(5, "0930000000", "A"), RawRecord(8, "0931111111", "B")]
    assert (records.records_read, records.rejected, records.lines_read) == (2, 0, 8)


def test_quoted_field_with_newlines_keeps_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, 'phone;fio\r\n0930000000;"Іван\r\nПетренко"\r\n0931111111;"a;b ""c"""\r\n')

    items = read_all(path)

    assert items == [RawRecord(2, "0930000000", "Іван\r\nПетренко"), RawRecord(4, "0931111111", 'a;b "c"')]


def test_counts_are_exposed_after_iteration(tmp_path: Path) -> None:
    path = write(tmp_path, "phone,fio\n0930000000,A\n0931111111\n0932222222,C\n")

    with read_csv(path) as records:
        items = list(records)

    assert len(items) == 3
    assert (records.records_read, records.rejected) == (3, 1)


def test_records_can_be_iterated_only_once(tmp_path: Path) -> None:
    records = read_csv(write(tmp_path, "phone\n0930000000\n"))
    list(records)

    with pytest.raises(RuntimeError):
        list(records)


# --- line-level problems: rejects, and the rest of the file still read ---------


def test_too_few_cells_is_a_reject(tmp_path: Path) -> None:
    path = write(tmp_path, "phone;fio\n0930000000\n0931111111;B\n")

    items = read_all(path)

    assert items[0] == RejectedRow(2, "0930000000", "", "too few cells: expected at least 2, found 1")
    assert items[1] == RawRecord(3, "0931111111", "B")


def test_cp1251_data_rows_are_rejected_with_the_encoding_hint(tmp_path: Path) -> None:
    content = (
        "phone;fio\n".encode()
        + "0930000000;Іван Петренко\n".encode("cp1251")
        + "0931111111;Ганна\n".encode()
    )
    path = write(tmp_path, content)

    items = read_all(path)

    assert items[0].line == 2
    assert items[0].reason == NOT_UTF8
    assert "cp1251" in items[0].reason
    assert items[0].phone == "0930000000"  # what can be salvaged is shown to the operator
    assert items[1] == RawRecord(3, "0931111111", "Ганна")


def test_nul_bytes_in_a_line_are_a_reject(tmp_path: Path) -> None:
    path = write(tmp_path, b"phone,fio\n0930000000,A\x00B\n0931111111,C\n")

    items = read_all(path)

    assert (items[0].line, items[0].reason) == (2, BINARY_LINE)
    assert items[1] == RawRecord(3, "0931111111", "C")


def test_huge_line_is_rejected_without_holding_it_and_the_rest_is_read(tmp_path: Path) -> None:
    huge = "0930000000," + "x" * (8 * 1024 * 1024) + "\n"
    path = write(tmp_path, "phone,fio\n0931111111,A\n" + huge + "0932222222,B\n")

    tracemalloc.start()
    items = read_all(path)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert items[0] == RawRecord(2, "0931111111", "A")
    assert (items[1].line, items[1].reason) == (3, "line longer than 65536 bytes")
    assert items[1].phone == "0930000000" and len(items[1].fio) == 200
    assert items[2] == RawRecord(4, "0932222222", "B")
    assert peak_bytes < 1024 * 1024  # chunks of 64 KiB, never the 8 MiB line


def test_unclosed_quote_at_end_of_file_is_a_reject(tmp_path: Path) -> None:
    path = write(tmp_path, 'phone,fio\n0930000000,A\n0931111111,"B\n0932222222,C\n')

    items = read_all(path)

    assert items[0] == RawRecord(2, "0930000000", "A")
    assert items[1].line == 3
    assert items[1].reason == "quoted field not closed: lines 3-4 up to the end of the file"


def test_unclosed_quote_is_cut_at_the_record_limit_and_reading_resumes(tmp_path: Path) -> None:
    body = "".join(f"09300000{n:02d},Name {n}\n" for n in range(3, 40))
    path = write(tmp_path, 'phone,fio\n0931111111,"Unclosed\n' + body)

    items = read_all(path, max_line_bytes=200)

    assert items[0].line == 2
    assert items[0].reason.startswith("quoted field not closed: lines 2-")
    resumed = [item for item in items[1:] if isinstance(item, RawRecord)]
    assert resumed and all(item.phone == f"09300000{item.line:02d}" for item in resumed)
    assert resumed[-1].line == 39


def test_text_after_a_closing_quote_is_a_reject(tmp_path: Path) -> None:
    path = write(tmp_path, 'phone,fio\n0930000000,"Іван"x\n0931111111,B\n')

    items = read_all(path)

    assert (items[0].line, items[0].reason) == (2, "malformed CSV record: ',' expected after '\"'")
    assert items[1] == RawRecord(3, "0931111111", "B")


def test_bad_line_inside_a_quoted_field_rejects_the_whole_record(tmp_path: Path) -> None:
    path = write(tmp_path, b'phone,fio\n0930000000,"A\n\xff\nB"\n0931111111,C\n')

    items = read_all(path)

    assert items[0].line == 2
    assert items[0].reason == NOT_UTF8 + " at line 3, inside a quoted field"
    assert items[-1] == RawRecord(5, "0931111111", "C")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
def test_file_is_closed_after_iteration_and_when_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "phone\n0930000000\n0931111111\n")
    open_files = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    before = open_files()

    list(read_csv(path))
    assert open_files() == before

    abandoned = read_csv(path)
    assert open_files() == before + 1
    del abandoned
    assert open_files() == before


# --- file-level problems: CsvFormatError before any row --------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="file not found"):
        read_csv(tmp_path / "nope.csv")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="directory"):
        read_csv(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"], ids=["zero-bytes", "bom-only", "blank"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(CsvFormatError, match="the file is empty"):
        read_csv(write(tmp_path, content))


@pytest.mark.parametrize("content", ["phone;fio\n", "phone;fio", "phone;fio\r\n\r\n;\n"])
def test_header_without_data_rows_raises_at_open(tmp_path: Path, content: str) -> None:
    with pytest.raises(CsvFormatError, match="no data rows after the header"):
        read_csv(write(tmp_path, content))


def test_missing_phone_column_lists_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "Клієнт;Мобільний\nІван;0930000000\n")

    with pytest.raises(CsvFormatError) as caught:
        read_csv(path)

    message = str(caught.value)
    assert "no phone column" in message
    assert "'Клієнт', 'Мобільний'" in message
    assert "--phone-column" in message
    assert "\n" not in message


def test_headerless_file_gets_a_hint(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="first line looks like data"):
        read_csv(write(tmp_path, "0930000000;Іван\n0931111111;Петро\n"))


def test_long_column_names_are_shortened_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError) as caught:
        read_csv(write(tmp_path, "y" * 5000 + "\n0930000000\n"))

    assert len(str(caught.value)) < 300 + len(str(tmp_path))


def test_explicit_column_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="no column 'mobile' for the phone; columns found: 'phone'"):
        read_csv(write(tmp_path, "phone\n0930000000\n"), phone_column="mobile")


def test_cp1251_header_names_the_encoding_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "Телефон;ПІБ\n0930000000;Іван\n".encode("cp1251"))

    with pytest.raises(CsvFormatError) as caught:
        read_csv(path)

    message = str(caught.value)
    assert "not valid UTF-8 (byte 0xd2 at position 0)" in message
    assert "cp1251" in message and "CSV UTF-8" in message


def test_png_is_named(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))

    with pytest.raises(CsvFormatError, match="PNG image"):
        read_csv(write(tmp_path, png, "photo.csv"))


def test_xlsx_is_named(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match=r"Excel \.xlsx"):
        read_csv(write(tmp_path, b"PK\x03\x04\x14\x00\x06\x00" + bytes(100)))


def test_utf16_is_named(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="UTF-16"):
        read_csv(write(tmp_path, "phone\tfio\n0930000000\tІван\n".encode("utf-16")))


@pytest.mark.parametrize("seed", range(5))
def test_random_binary_is_refused(tmp_path: Path, seed: int) -> None:
    garbage = random.Random(seed).randbytes(4096)

    with pytest.raises(CsvFormatError, match="binary data|not valid UTF-8"):
        read_csv(write(tmp_path, garbage))


def test_os_urandom_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError):
        read_csv(write(tmp_path, os.urandom(64 * 1024)))


def test_nul_bytes_in_the_header_mean_binary(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="binary data"):
        read_csv(write(tmp_path, b"pho\x00ne,fio\n0930000000,A\n"))


def test_cr_only_line_ends_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="CR only"):
        read_csv(write(tmp_path, "phone;fio\r0930000000;A\r0931111111;B\r"))


def test_first_line_longer_than_the_limit(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="first line is longer than 100 bytes"):
        read_csv(write(tmp_path, "phone," + "x" * 200 + "\n0930000000,A\n"), max_line_bytes=100)
