"""Generate a realistic, deterministic contacts CSV for demos and benchmarks.

    python bench/gen_contacts.py --rows 1000000 --out bench/out/contacts-1m.csv
    python bench/gen_contacts.py --rows 10000 --out workers/dev/data/contacts-10k.csv --delimiter ';'

Columns `phone`, `fio`. Phones are valid Ukrainian mobile numbers written the
ways operators' CRMs export them (`+380 93 123 45 67`, `0931234567`,
`(093) 123-45-67`, ...), a few foreign ones, a `--bad-share` of numbers that
must be rejected and a `--dup-share` repeating an earlier number in another
format. Names are Ukrainian, in Cyrillic. The same `--seed` gives the same file,
and rows are written as they are made, so a million rows cost no memory.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import deque
from collections.abc import Iterator
from typing import TextIO

UA_MOBILE_CODES = ("39", "50", "63", "66", "67", "68", "73", "91", "92", "93", "94", "95", "96", "97", "98", "99")
SUBSCRIBERS = 10**7  # 7-digit subscriber numbers behind each code
FOREIGN_SHARE = 0.003  # Polish mobiles: the +48 in a UA list that must pass too
RECENT_NUMBERS = 2_000  # duplicates repeat one of the last N numbers, like a re-imported CRM page

UA_FORMATS = (
    "+380 {c} {a} {b} {d}",
    "+380{c}{a}{b}{d}",
    "380{c}{a}{b}{d}",
    "0{c}{a}{b}{d}",
    "(0{c}) {a}-{b}-{d}",
    "0{c}-{a}-{b}-{d}",
    "+38 (0{c}) {a} {b} {d}",
    "0{c} {a} {b} {d}",
)

BAD_PHONES = (
    "093 123 45 6",  # a digit short
    "0001234567",  # no such operator code
    "(012) 345-67-89",
    "немає",
    "n/a",
    "",
    "0931234567, 0671234567",  # two numbers in one cell
    "3.80931E+11",  # Excel's scientific notation
    "+380 93 123 45 67 89",  # too long
)

MALE = ("Олександр", "Андрій", "Іван", "Сергій", "Дмитро", "Микола", "Володимир", "Олег", "Юрій", "Тарас",
        "Богдан", "Василь", "Максим", "Артем", "Віктор", "Євген", "Роман", "Петро", "Ігор", "Назар")
FEMALE = ("Олена", "Наталія", "Оксана", "Ірина", "Тетяна", "Юлія", "Марія", "Світлана", "Ганна", "Катерина",
          "Людмила", "Вікторія", "Софія", "Анастасія", "Дарина", "Галина", "Христина", "Надія", "Мар'яна", "Ольга")
SURNAMES = ("Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Шевчук", "Коваль",
            "Поліщук", "Бойко", "Ткачук", "Савченко", "Мельник", "Петренко", "Марченко", "Руденко", "Мороз",
            "Павленко", "Лисенко", "Гончаренко", "Кушнір", "Литвиненко", "Сидоренко", "Дячук", "Гнатюк")
# (masculine, feminine) for the surnames that agree with gender
GENDERED_SURNAMES = (("Ковальський", "Ковальська"), ("Грушевський", "Грушевська"),
                     ("Заболотний", "Заболотна"), ("Білий", "Біла"), ("Яворський", "Яворська"))
# father's name -> (son's, daughter's) patronymic
PATRONYMICS = (("Олександрович", "Олександрівна"), ("Іванович", "Іванівна"), ("Петрович", "Петрівна"),
               ("Миколайович", "Миколаївна"), ("Васильович", "Василівна"), ("Сергійович", "Сергіївна"),
               ("Андрійович", "Андріївна"), ("Володимирович", "Володимирівна"), ("Юрійович", "Юріївна"),
               ("Богданович", "Богданівна"))


class ContactFaker:
    """Rows of (phone, fio); unique numbers except the duplicates asked for."""

    def __init__(self, *, seed: int, bad_share: float, dup_share: float) -> None:
        self._rng = random.Random(seed)
        self._bad_share = bad_share
        self._dup_share = dup_share
        self._recent: deque[tuple[str, str]] = deque(maxlen=RECENT_NUMBERS)
        self._space = len(UA_MOBILE_CODES) * SUBSCRIBERS
        # i -> (i * step + offset) mod space is a bijection when step is coprime
        # with the space (2^11 * 5^7): unique numbers without remembering them.
        self._step = self._rng.randrange(10**6, 10**7) * 10 + self._rng.choice((1, 3, 7, 9))
        self._offset = self._rng.randrange(self._space)

    def rows(self, count: int) -> Iterator[tuple[str, str]]:
        for index in range(count):
            phone, fio = self._phone(index), self._fio()
            # An empty phone with an empty name is a blank line the loader skips;
            # keep the name so the row counts, and shows as a reject.
            if not phone and not fio:
                fio = self._rng.choice(FEMALE)
            yield phone, fio

    def _phone(self, index: int) -> str:
        rng = self._rng
        roll = rng.random()
        if roll < self._bad_share:
            return rng.choice(BAD_PHONES)
        if roll < self._bad_share + self._dup_share and self._recent:
            return self._ua_format(*rng.choice(self._recent))
        if roll < self._bad_share + self._dup_share + FOREIGN_SHARE:
            # 500 000 000 + index stays in Polish mobile ranges and stays unique
            number = f"{500_000_000 + index % 10**8}"
            return f"+48 {number[:3]} {number[3:6]} {number[6:]}"
        n = (index * self._step + self._offset) % self._space
        code, subscriber = UA_MOBILE_CODES[n // SUBSCRIBERS], f"{n % SUBSCRIBERS:07d}"
        self._recent.append((code, subscriber))
        return self._ua_format(code, subscriber)

    def _ua_format(self, code: str, subscriber: str) -> str:
        template = self._rng.choice(UA_FORMATS)
        return template.format(c=code, a=subscriber[:3], b=subscriber[3:5], d=subscriber[5:])

    def _fio(self) -> str:
        rng = self._rng
        female = rng.random() < 0.5
        first = rng.choice(FEMALE if female else MALE)
        if rng.random() < 0.2:
            surname = rng.choice(GENDERED_SURNAMES)[female]
        else:
            surname = rng.choice(SURNAMES)
        style = rng.random()
        if style < 0.5:
            return f"{surname} {first} {rng.choice(PATRONYMICS)[female]}"
        if style < 0.9:
            return f"{first} {surname}"
        return first if style < 0.96 else ""


def write_contacts(out: TextIO, *, rows: int, seed: int, bad_share: float, dup_share: float, delimiter: str) -> None:
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(("phone", "fio"))
    faker = ContactFaker(seed=seed, bad_share=bad_share, dup_share=dup_share)
    writer.writerows(faker.rows(rows))


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError("a share is between 0 and 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="data rows to write (header not counted)")
    parser.add_argument("--out", required=True, help="output file, or - for stdout")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad-share", type=_share, default=0.02, help="share of invalid numbers")
    parser.add_argument("--dup-share", type=_share, default=0.01, help="share of repeated numbers")
    parser.add_argument("--delimiter", default=",", choices=(",", ";", "\t"))
    args = parser.parse_args(argv)
    if args.bad_share + args.dup_share + FOREIGN_SHARE >= 1:
        parser.error("--bad-share plus --dup-share leave no room for valid rows")
    options = dict(rows=args.rows, seed=args.seed, bad_share=args.bad_share, dup_share=args.dup_share,
                   delimiter=args.delimiter)
    if args.out == "-":
        write_contacts(sys.stdout, **options)
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            write_contacts(out, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
