"""normalize_phone: the vendor's digits-only form, or a reason an operator understands."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from workers.jobs.intake import InvalidPhone, normalize_phone
from workers.jobs.intake.phones import _normalize_fast, _normalize_with_parse


@pytest.mark.parametrize(
    "raw",
    [
        "+380 93 000 00 00",
        "+380930000000",
        "380930000000",
        "0930000000",
        "(093) 000-00-00",
        "093-000-00-00",
        "+38 (093) 000 00 00",
        "093 000 00 00",
        "093.000.00.00",
        "093/000-00-00",
        "  0930000000\t",
        "+380 93  000 00 00",  # a stray double space inside one number
        "tel:+380930000000",
        "'+380930000000",  # as escaped by the job report, so a fixed report reloads
    ],
)
def test_ukrainian_formats_become_country_code_and_digits(raw: str) -> None:
    assert normalize_phone(raw, "UA") == "380930000000"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+48 512 345 678", "48512345678"),
        ("+1 650 253 0000", "16502530000"),
        ("+39 06 1234 5678", "390612345678"),  # Italy keeps its leading zero
        ("0044 20 7946 0958", "442079460958"),  # dialled abroad from Ukraine with 00
    ],
)
def test_foreign_numbers_keep_their_own_country_code(raw: str, expected: str) -> None:
    assert normalize_phone(raw, "UA") == expected


def test_region_applies_to_numbers_without_country_code() -> None:
    assert normalize_phone("512 345 678", "PL") == "48512345678"
    assert normalize_phone("(650) 253-0000", "US") == "16502530000"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty phone"),
        ("   ", "empty phone"),
        ("немає", "not a phone number"),
        ("n/a", "not a phone number"),
        ("0001234567", "invalid number for region UA"),
        ("0930000000, 0671111111", "more than one number in the cell"),
        ("0930000000; 0671111111", "more than one number in the cell"),
        ("+380930000000 / +380671111111", "more than one number in the cell"),
        ("0930000000  0671111111", "more than one number in the cell"),
        ("0930000000 0671111111", "too many digits (more than one number in the cell?)"),
        ("3.8093E+11", "number in scientific notation (format the column as text in Excel)"),
        ("+999 1234567", "unknown country code"),
        ("+1 555 0000", "invalid number for country code +1"),
        ("+1 201 555 01", "too short for country code +1"),
        ("12", "too short for region UA"),
        ("093 000 00 00 ext 12", "extensions are not supported (ext. 12)"),
        ("0" * 80, "not a phone number (cell too long)"),
    ],
)
def test_invalid_numbers_are_rejected_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize_phone(raw, "UA")

    assert caught.value.reason == reason
    assert str(caught.value) == reason
    assert isinstance(caught.value, ValueError)


def test_fast_path_agrees_with_phonenumbers_parse() -> None:
    # Given numbers built like real ones (example numbers with random endings,
    # every prefix style, punctuation sprinkled) for every region
    rng = random.Random(7)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    fast_hits = 0
    for _ in range(20_000):
        region = rng.choice(regions)
        cell = _random_number_text(rng, region)

        # When the fast path answers, Then it is what parse + validate answers
        fast = _normalize_fast(cell, region)
        if fast is not None:
            fast_hits += 1
            assert fast == _normalize_with_parse(cell, region), (region, cell)
    assert fast_hits > 1_000  # the comparison was not vacuous


def _random_number_text(rng: random.Random, region: str) -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is not None and rng.random() < 0.7:
        national = phonenumbers.national_significant_number(example)
        national = national[:-3] + f"{rng.randrange(1000):03d}"
    else:
        national = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 14)))
    code, prefix = str(meta.country_code), meta.national_prefix or ""
    start = rng.choice(["+" + code, code, prefix, "", "00" + code, "+" + code + prefix, code + prefix])
    text = ""
    for char in start + national:
        text += char + (rng.choice(" -().") if rng.random() < 0.2 else "")
    return text
