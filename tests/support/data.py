"""Contact CSVs for tests: valid Ukrainian mobiles in mixed formats, plus chosen bad lines."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("+38093{:07d}", "093{:07d}", "(093) {:07d}", "38093{:07d}")


def phone(i: int) -> str:
    return f"38093{i:07d}"


def write_contacts(path: Path, n: int, *, offset: int = 0, bad: int = 0, dups: int = 0) -> set[str]:
    """n valid rows (+ `bad` invalid numbers and `dups` repeats at the end); returns the valid numbers."""
    lines = ["phone;fio"]
    for i in range(offset, offset + n):
        lines.append(f"{FORMATS[i % len(FORMATS)].format(i)};Контакт {i}")
    lines += [f"12345{i};Bad {i}" for i in range(bad)]
    lines += [f"+38093{offset + i:07d};Dup {i}" for i in range(dups)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {phone(i) for i in range(offset, offset + n)}
