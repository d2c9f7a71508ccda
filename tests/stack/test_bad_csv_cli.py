"""Bad input files through the CLI: a one-line error and a non-zero exit, or rejects; never a traceback."""

from __future__ import annotations

import json

import pytest

from tests.support.stack import Stack


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    s = Stack(redis_url, tmp_path_factory.mktemp("badcsv"))  # no worker: nothing here needs sending
    yield s
    s.stop()


def load(stack, path):
    return stack.cli("load", "ringostat-campaign", "--campaign", "9", "--detach", str(path))


def one_line_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"phone;fio\n", "no data rows"),
        (b"name;email\nIvan;i@example.com\n", "phone column"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20, "not CSV"),
        (bytes(range(256)) * 20, "binary"),
        ("телефон;імя\n0930000000;Іван\n".encode("cp1251"), "UTF-8"),
    ],
    ids=["empty", "header-only", "no-phone-column", "png", "binary-garbage", "cp1251-header"],
)
def test_unusable_file_is_a_clear_error_and_creates_no_job(stack, tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    jobs_before = stack.redis.zcard(f"{stack.prefix}jobs")
    message = one_line_error(load(stack, path))
    assert expected.lower() in message.lower()
    assert stack.redis.zcard(f"{stack.prefix}jobs") == jobs_before


def test_missing_file_is_a_clear_error(stack, tmp_path):
    one_line_error(load(stack, tmp_path / "nope.csv"))


def test_bad_lines_become_rejects_and_the_rest_loads(stack, tmp_path):
    # Given a file with a huge line, a cp1251 line and a NUL byte among good rows
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"phone;fio\n0930000001;A\n0930000002;" + b"x" * 3_000_000 + b"\n"
        + "0930000003;Іван\n".encode("cp1251") + b"0930000004;B\x00\n0930000005;C\n"
    )
    result = load(stack, path)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    status = json.loads(stack.cli("job", "status", job_id, "--json").stdout)
    assert (status["total"], status["valid"], status["rejected"]) == (5, 2, 3)
    report = stack.cli("job", "report", job_id).stdout
    assert "longer than" in report and "UTF-8" in report and "binary" in report
    # Cells are cut short in the report, and the huge one did not make it whole
    assert len(report) < 10_000
