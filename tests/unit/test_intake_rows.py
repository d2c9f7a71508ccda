"""What intake gives every kind: rejects with their cells cut, repeats found in bounded
memory, and lines for rows from code."""

from __future__ import annotations

import random

import pytest

from workers.jobs.intake import MAX_LINE, DuplicateLine, RejectedRow, SeenNumbers, numbered


def test_rejected_cells_are_truncated_to_200_chars() -> None:
    row = RejectedRow(2, "9" * 1000, "Я" * 1000, "not a phone number (cell too long)")

    assert (len(row.phone), len(row.fio)) == (200, 200)


def test_seen_numbers_grows_and_matches_a_dict() -> None:
    rng = random.Random(3)
    seen, reference = SeenNumbers(capacity=8), {}
    for line in range(2, 60_002):
        number = 380_000_000_000 + rng.randrange(200_000)  # many repeats
        first = reference.setdefault(number, line)

        assert seen.first_line(number, line) == (0 if first == line else first)
    assert len(seen) == len(reference)


def test_seen_numbers_costs_at_most_32_bytes_per_number() -> None:
    seen = SeenNumbers()
    for n in range(100_000):
        seen.first_line(380_930_000_000 + n * 7919, n + 2)

    size = sum(table.buffer_info()[1] * table.itemsize for table in (seen._numbers, seen._lines))
    assert size <= 32 * 100_000 * 1.32  # half-full at most, power-of-two sizes


def test_rows_from_code_are_numbered_by_position_or_their_own_line() -> None:
    rows = [{"phone": "a"}, {"line": 41, "phone": "b"}, {"phone": "c"}]

    assert [(line, row["phone"]) for line, row in numbered(rows)] == [(1, "a"), (41, "b"), (3, "c")]


def test_a_line_given_twice_or_out_of_range_stops_at_that_row() -> None:
    with pytest.raises(DuplicateLine, match=r"rows\[0\] and rows\[2\] both have line 1"):
        list(numbered([{"phone": "a"}, {"line": 5}, {"line": 1}]))
    with pytest.raises(ValueError, match=rf"rows\[1\]: line {MAX_LINE + 1} is outside"):
        list(numbered([{}, {"line": MAX_LINE + 1}]))
    with pytest.raises(ValueError, match=r"rows\[0\]: line 'x' is not a whole number"):
        list(numbered([{"line": "x"}]))
