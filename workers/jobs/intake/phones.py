"""Phone numbers as the vendors want them: country code and digits, no `+`.

Ringostat takes `380930000000`; the file may hold `+380 93 000 00 00`,
`0930000000`, `(093) 000-00-00` or a foreign `+48 512 345 678`. `phonenumbers`
decides what is valid. Its `parse` is the costly half of the per-row work
(~14 µs of ~19 µs), so the usual shapes of a home-region number skip it: see
`_fast_national_number`. Everything else, and every failure, goes through
`parse`, which also gives the operator's reason.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, ValidationResult

# A cell longer than this is no phone number, and phonenumbers' regexes should
# not be run over it.
_MAX_CELL_CHARS = 64
# No numbering plan has more digits (E.164 allows 15).
_MAX_DIGITS = 15
# What people put between two numbers in one cell. A single space is not here:
# it is the usual group separator inside one number.
_BETWEEN_NUMBERS = re.compile(r"[,;|/\n]|\s{2,}")
_SEPARATOR_CHARS = frozenset(",;|/\n")
# The fewest digits a subscriber number ever has; a shorter chunk between
# separators is a piece of one number, e.g. "+380 93  000 00 00".
_MIN_NUMBER_DIGITS = 7

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_LENGTH_PROBLEMS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong length",
}


class InvalidPhone(ValueError):
    """The cell holds no usable phone number; `reason` says why, for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_phone(raw: str, region: str) -> str:
    """Return `raw` as country code + national number digits, e.g. `380930000000`.

    `region` (ISO 3166 code, e.g. "UA") applies to numbers written without a
    country code. Raises `InvalidPhone` with a short human reason.
    """
    cell = raw.strip()
    if not cell:
        raise InvalidPhone("empty phone")
    if len(cell) > _MAX_CELL_CHARS:
        raise InvalidPhone("not a phone number (cell too long)")
    if (not _SEPARATOR_CHARS.isdisjoint(cell) or "  " in cell) and _count_numbers(cell) > 1:
        raise InvalidPhone("more than one number in the cell")
    return _normalize_fast(cell, region) or _normalize_with_parse(cell, region)


def _normalize_with_parse(cell: str, region: str) -> str:
    try:
        number = phonenumbers.parse(cell, region)
    except NumberParseException as exc:
        raise InvalidPhone(_explain(cell, _PARSE_REASONS.get(exc.error_type, "not a phone number"))) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_explain(cell, _invalid_reason(number, region)))
    if number.extension:
        # A dialer cannot dial the extension; calling the switchboard instead would
        # reach the wrong person, so the operator decides.
        raise InvalidPhone(f"extensions are not supported (ext. {number.extension})")
    # What E.164 formatting yields minus its "+", without the formatter's overhead.
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


# --- the fast path -----------------------------------------------------------


class _Plan(NamedTuple):
    """What `parse` needs to know about a region, when it is simple enough."""

    country_code: str  # "380"
    national_prefix: str  # "0", or "" when the region has none
    idd: str  # "00": how the region dials abroad
    max_national_digits: int


@lru_cache(maxsize=None)
def _plan(region: str) -> _Plan | None:
    """The region's plan, or None when parse does more than strip a literal prefix."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.national_prefix_transform_rule:
        return None
    prefix = meta.national_prefix or ""
    if meta.national_prefix_for_parsing not in (None, prefix) or not (prefix == "" or prefix.isdigit()):
        return None
    if not (meta.international_prefix or "").isdigit():
        return None  # a pattern such as Brazil's carrier-selection IDD
    if phonenumbers.region_code_for_country_code(meta.country_code) != region:
        return None  # parse would switch to the main region's rules (KZ -> RU)
    lengths = meta.general_desc.possible_length
    if not lengths:
        return None
    return _Plan(str(meta.country_code), prefix, meta.international_prefix, max(lengths))


def _normalize_fast(cell: str, region: str) -> str | None:
    """The result `parse` would give, for a valid number written in digits and
    ` ()-.`, with the region's country code or national prefix; else None."""
    plan = _plan(region)
    if plan is None:
        return None
    digits = cell.replace(" ", "").replace("-", "").replace("(", "").replace(")", "").replace(".", "")
    if not (digits.isascii() and digits[digits.startswith("+"):].isdigit()):
        return None
    national = _fast_national_number(digits, plan)
    # A leading 0 (Italian-style) or a national prefix left in front would make
    # parse strip or keep digits by rules not repeated here.
    if not national or national[0] == "0" or (plan.national_prefix and national.startswith(plan.national_prefix)):
        return None
    if not phonenumbers.is_valid_number(PhoneNumber(country_code=int(plan.country_code), national_number=int(national))):
        return None
    return plan.country_code + national


def _fast_national_number(digits: str, plan: _Plan) -> str | None:
    """Mirror of parse's country-code and national-prefix steps, for plain digits.

    Only the cases where parse's outcome is certain for a valid number: `+CC...`,
    `CC...` longer than any national number, and `<national prefix>...`.
    """
    if digits.startswith("+"):
        return digits[1 + len(plan.country_code):] if digits.startswith(plan.country_code, 1) else None
    if digits.startswith(plan.idd):
        return None
    if digits.startswith(plan.country_code):
        return digits[len(plan.country_code):] if len(digits) > plan.max_national_digits else None
    if plan.national_prefix and digits.startswith(plan.national_prefix):
        return digits[len(plan.national_prefix):]
    return None


# --- reasons -----------------------------------------------------------------


def _explain(cell: str, reason: str) -> str:
    """A sharper reason for two common mistakes; run on failures only."""
    if ("E+" in cell or "e+" in cell) and "." in cell:
        # Excel shows 380930000000 as 3.8093E+11 and saves it that way, digits lost
        return "number in scientific notation (format the column as text in Excel)"
    if sum(ch.isdigit() for ch in cell) > _MAX_DIGITS:
        return "too many digits (more than one number in the cell?)"
    return reason


def _count_numbers(cell: str) -> int:
    chunks = _BETWEEN_NUMBERS.split(cell)
    return sum(sum(ch.isdigit() for ch in chunk) >= _MIN_NUMBER_DIGITS for chunk in chunks)


def _invalid_reason(number: PhoneNumber, region: str) -> str:
    if number.country_code == phonenumbers.country_code_for_region(region):
        where = f"region {region}"
    else:
        where = f"country code +{number.country_code}"
    length = phonenumbers.is_possible_number_with_reason(number)
    return f"{_LENGTH_PROBLEMS.get(length, 'invalid number')} for {where}"


__all__ = ["InvalidPhone", "normalize_phone"]
