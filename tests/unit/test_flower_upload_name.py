"""Flower's upload form: the file's own name is what the job records (the CLI's --resume
compares it); only Flower's temporary copy has a safe one."""

from __future__ import annotations

import os

import pytest

from workers.flower.upload import UploadForm


def parsed(filename: str, folder) -> UploadForm:
    boundary = "b0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nringostat-campaign\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: text/csv\r\n\r\nphone\n+380930000001\n\r\n--{boundary}--\r\n").encode()
    form = UploadForm(boundary, str(folder))
    form.feed(body)
    form.finish()
    return form


@pytest.mark.parametrize("sent, name, copy", [
    ("my contacts (1).csv", "my contacts (1).csv", "my_contacts_1_.csv"),
    ("контакти.csv", "контакти.csv", "контакти.csv"),
    ("../../etc/x.csv", "x.csv", "x.csv"),
    ("C:\\\\Users\\\\ops\\\\лист #2.jsonl", "лист #2.jsonl", "лист_2.jsonl"),
    ("a\tb.csv", "ab.csv", "ab.csv"),
    ('my \\"best\\".csv', 'my "best".csv', "my_best_.csv"),  # as workers.cli.via quotes it
    ("..", "upload.csv", "upload.csv"),
    ("", "upload.csv", "upload.csv"),
])
def test_the_job_keeps_the_files_own_name_and_flowers_copy_a_safe_one(sent, name, copy, tmp_path):
    form = parsed(sent, tmp_path)
    assert form.name == name
    assert os.path.dirname(form.path) == str(tmp_path) and os.path.basename(form.path) == copy


def test_a_refusal_names_the_file_by_its_own_name(tmp_path):
    from workers.flower.upload import _one_line
    from workers.jobs.intake import CsvFormatError

    form = parsed("my contacts (1).csv", tmp_path)
    refusal = CsvFormatError(f"{form.path}: no phone column; columns found: name")
    assert _one_line(refusal, str(tmp_path), form.path, form.name) == "my contacts (1).csv: no phone column; columns found: name"
