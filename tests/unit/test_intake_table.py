"""read_table: columns found by name; read_csv's file and line checks; rejects keep their cells."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.jobs.intake import CsvFormatError, RejectedRow, TableRecord, TableRejectedRow, read_table
from workers.jobs.intake.csvfile import BINARY_LINE, NOT_UTF8

COLUMNS = {
    "external_code": ("external_code", "code"),
    "phone": ("phone", "phone1", "телефон"),
    "name": ("name", "fio"),
    "email": ("email", "e-mail"),
}
REQUIRED = ("external_code", "phone")


def write(tmp_path: Path, content: bytes | str) -> Path:
    path = tmp_path / "table.csv"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read_all(path: Path, **options) -> list:
    return list(read_table(path, columns=options.pop("columns", COLUMNS), required=REQUIRED, **options))


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_reads_any_delimiter_with_or_without_bom(tmp_path, bom, delimiter):
    # Given a table in any column order, with a column the job does not use
    text = delimiter.join(["Comment", "Name", "Code", "Телефон"]) + "\n" + delimiter.join(
        ["vip", "Ганна Коваль", "A-1", "0930000000"]) + "\n"
    # When it is read
    records = read_table(write(tmp_path, bom + text.encode()), columns=COLUMNS, required=REQUIRED)
    # Then cells come by logical column, "" for one the header lacks
    assert records.delimiter == delimiter
    assert records.columns == {"external_code": "Code", "phone": "Телефон", "name": "Name", "email": None}
    assert list(records) == [
        TableRecord(2, {"external_code": "A-1", "phone": "0930000000", "name": "Ганна Коваль", "email": ""})]


def test_a_missing_required_column_fails_before_any_row(tmp_path):
    path = write(tmp_path, "name;phone\nA;0930000000\n")
    with pytest.raises(CsvFormatError, match="no external_code column.*external_code, code.*columns found: 'name'"):
        read_table(path, columns=COLUMNS, required=REQUIRED)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"code;phone\n", "no data rows"),
    (b"PK\x03\x04rest", "Excel .xlsx"),
    ("code;телефон\n".encode("cp1251") + b"1;2\n", "not valid UTF-8"),
])
def test_file_level_problems_are_read_csvs(tmp_path, content, message):
    with pytest.raises(CsvFormatError, match=message):
        read_table(write(tmp_path, content), columns=COLUMNS, required=REQUIRED)


def test_spec_mistakes_are_value_errors(tmp_path):
    path = write(tmp_path, "code;phone\n1;0930000000\n")
    with pytest.raises(ValueError, match="not in columns"):
        read_table(path, columns=COLUMNS, required=("external_code", "www"))
    with pytest.raises(ValueError, match="tuple"):
        read_table(path, columns=COLUMNS, required="phone")  # type: ignore[arg-type]


def test_bad_lines_are_rejected_with_their_cells_and_the_rest_is_read(tmp_path):
    # Given a cp1251 line, a line with NUL bytes, a line of 100 KB and a short record
    huge = "X" * 100_000
    content = (b"code;phone;name\n" + b"A-1;0930000001;ok\n" + "A-2;0930000002;Ганна\n".encode("cp1251")
               + b"A-3;09300\x0000003;nul\n" + f"A-4;0930000004;{huge}\n".encode() + b"A-5\n"
               + b"A-6;0930000006;fine\n")
    records = read_table(write(tmp_path, content), columns=COLUMNS, required=REQUIRED, max_line_bytes=1024)
    # When it is read
    items = list(records)
    # Then each bad line is a reject with its line, reason and salvaged cells; good ones go on
    assert [(item.line, type(item).__name__) for item in items] == [
        (2, "TableRecord"), (3, "TableRejectedRow"), (4, "TableRejectedRow"), (5, "TableRejectedRow"),
        (6, "TableRejectedRow"), (7, "TableRecord")]
    not_utf8, nul, long_line, short = items[1:5]
    assert not_utf8.reason == NOT_UTF8 and not_utf8.values["external_code"] == "A-2"
    assert nul.reason == BINARY_LINE and nul.values["external_code"] == "A-3"
    assert long_line.reason == "line longer than 1024 bytes"
    assert short.reason == "too few cells: expected at least 2, found 1" and short.values["external_code"] == "A-5"
    assert (records.records_read, records.rejected) == (6, 4)


def test_rejects_are_rejected_rows_with_phone_and_name_filled(tmp_path):
    path = write(tmp_path, b"code;phone;name\n" + "A-1;0930000001;Ганна\n".encode("cp1251").replace(b"A-1", b"A-1\xff"))
    [reject] = read_all(path)
    assert isinstance(reject, RejectedRow) and isinstance(reject, TableRejectedRow)
    assert reject.phone == "0930000001" and reject.fio.startswith("\ufffd") and reject.line == 2


def test_optional_cells_missing_at_the_end_are_empty(tmp_path):
    path = write(tmp_path, "code;phone;name;email\nA-1;0930000001\n;;;\n\nA-2;0930000002;B;b@x.ua\n")
    assert read_all(path) == [
        TableRecord(2, {"external_code": "A-1", "phone": "0930000001", "name": "", "email": ""}),
        TableRecord(5, {"external_code": "A-2", "phone": "0930000002", "name": "B", "email": "b@x.ua"})]


def test_quoted_multiline_cells_keep_physical_line_numbers(tmp_path):
    path = write(tmp_path, 'code,phone,name\r\nA-1,0930000001,"Іван\r\nПетренко"\r\nA-2,0930000002,"a,""b"""\r\n')
    items = read_all(path)
    assert [(item.line, item.values["name"]) for item in items] == [(2, "Іван\r\nПетренко"), (4, 'a,"b"')]


def test_a_header_column_serves_the_first_logical_column_naming_it(tmp_path):
    # Given two logical columns that both accept "phone"
    columns = {"external_code": ("code",), "phone": ("phone", "phone1"), "phone2": ("phone2", "phone")}
    path = write(tmp_path, "code;phone\nA-1;0930000001\n")
    # Then the second does not take the first's cell
    [record] = list(read_table(path, columns=columns, required=("external_code", "phone")))
    assert record.values == {"external_code": "A-1", "phone": "0930000001", "phone2": ""}


def test_iterates_once_and_closes_the_file(tmp_path):
    records = read_table(write(tmp_path, "code;phone\n1;2\n"), columns=COLUMNS, required=REQUIRED)
    assert len(list(records)) == 1
    with pytest.raises(RuntimeError, match="only once"):
        list(records)
    assert records._stream.closed
