"""The contacts upsert without processes: row validation, and one row's find + write."""

from __future__ import annotations

import pytest

from tasks.chunk_runner import JobRow
from tasks.obzvonilka import upsert_contact, upsert_row
from vendors.errors import TransientVendorError
from vendors.obzvonilka import Contact
from workers.jobs.intake import TableRecord, TableRejectedRow
from workers.jobs.kinds.obzvonilka_contacts import UpsertRow, validate_upserts


def record(line: int, code: str, phone: str, name: str = "", **extra: str) -> TableRecord:
    values = {"external_code": code, "phone": phone, "name": name, "email": "", "address_string": "",
              "description": "", "www": ""}
    return TableRecord(line, values | extra)


def test_rows_are_normalised_and_rejects_say_why():
    # Given records with a good row, a bad phone, no code, a repeat and an overlong name
    bad_line = TableRejectedRow(4, "", "", "line longer than 65536 bytes", {"external_code": "X"})
    records = [record(2, " A-1 ", "(093) 000-00-01", "  Ганна   Коваль ", email="a@x.ua"),
               record(3, "A-2", "12"), bad_line, record(5, "", "0930000005"),
               record(6, "A-1", "0930000006"), record(7, "A-3", "0930000007", "x" * 300)]
    # When they are validated
    rows = list(validate_upserts(records, region="UA"))
    # Then the good row is normalised and each reject has its line and reason, in file order
    assert rows[0] == UpsertRow(2, "A-1", "380930000001", "Ганна Коваль", {"email": "a@x.ua"})
    assert [(r.line, r.reason) for r in rows[1:]] == [
        (3, "no valid phone: too short for region UA"), (4, "line longer than 65536 bytes"), (5, "missing external_code"),
        (6, "duplicate of line 2"), (7, "name: String should have at most 255 characters")]
    assert rows[4].values["phone"] == "0930000006"  # the cells as found, for the report


class FakeClient:
    def __init__(self, existing: dict[str, int]) -> None:
        self.existing = existing
        self.calls: list[tuple] = []

    def find_contact_by_external_code(self, base_id, code):
        self.calls.append(("find", base_id, code))
        return Contact(id=self.existing[code], external_code=code) if code in self.existing else None

    def create_contact(self, base_id, fields):
        self.calls.append(("create", base_id, fields.form()))

    def update_contact(self, base_id, contact_id, fields):
        self.calls.append(("update", base_id, contact_id, fields.form()))


class CountingLimiter:
    def __init__(self, grant: bool = True, new_slot: bool = False) -> None:
        self.acquired = 0
        self.grant = grant
        self.new_slot = new_slot
        self.new_slots = 0

    def take_reserved(self) -> bool:
        self.acquired += 1
        return self.grant

    def acquire(self, *, should_stop=lambda: False, slots: int = 1) -> bool:
        self.new_slots += 1
        return self.new_slot and not should_stop()

    def penalize(self, retry_after_s: float) -> None: ...


def row(code: str, name: str = "") -> JobRow:
    return upsert_row([2, code, "380930000001", name, {"email": "a@x.ua"}])


def test_an_existing_code_is_updated_without_blanking_and_without_resending_the_code():
    client, limiter = FakeClient({"A-1": 41}), CountingLimiter()
    upsert_contact(client, limiter, 7, row("A-1"))
    assert client.calls == [("find", 7, "A-1"),
                            ("update", 7, 41, {"contact[phone1]": "380930000001", "contact[email]": "a@x.ua"})]
    assert limiter.acquired == 1  # the write's reserved slot; the runner reserved both before the claim


def test_a_new_code_is_created_with_it():
    client, limiter = FakeClient({}), CountingLimiter()
    upsert_contact(client, limiter, 7, row("B-1", "Ганна"))
    assert client.calls[1] == ("create", 7, {"contact[name]": "Ганна", "contact[email]": "a@x.ua",
                                             "contact[external_code]": "B-1", "contact[phone1]": "380930000001"})


def test_no_limiter_slot_for_the_write_is_transient_and_nothing_is_written():
    client = FakeClient({})
    with pytest.raises(TransientVendorError, match="nothing was sent"):
        upsert_contact(client, CountingLimiter(grant=False), 7, row("B-1"))
    assert [call[0] for call in client.calls] == ["find"]


def test_a_write_whose_slot_passed_during_the_find_waits_for_a_new_one_and_does_not_find_again():
    # Given the write's reserved slot passed while the vendor answered the find
    client, limiter = FakeClient({"A-1": 41}), CountingLimiter(grant=False, new_slot=True)
    upsert_contact(client, limiter, 7, row("A-1"))
    # Then the write went in a new slot after the one find: two requests for the row, not three
    assert [call[0] for call in client.calls] == ["find", "update"] and limiter.new_slots == 1
