"""The chunk runner against a real ledger and limiter, with a scripted vendor."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from tasks.chunk_runner import ChunkRunner, JobRow
from tasks.key_trust import KeyTrust
from tasks.retry import RetryPolicy
from tests.support.scripted import ScriptedVendor, err, job_with_rows
from vendors import errors
from workers.limits.limiter import RateLimiter
from workers.redis.keys import Keys

ROWS = [JobRow(line, {"phone": f"38093000000{line}", "fio": f"name {line}"}, [line, f"38093000000{line}", ""])
        for line in range(2, 6)]


@pytest.fixture
def setup(r, key_prefix):
    return job_with_rows(r, key_prefix, ROWS, limiter_name="x")


def runner(ledger, limiter, vendor, **retry):
    policy = RetryPolicy(in_task_attempts=3, in_task_backoff_s=0.001, **retry)
    return ChunkRunner(ledger=ledger, limiter=limiter, retry=policy, lease_s=0.01, send=vendor, sleep=lambda s: None)


def test_transient_errors_retry_in_task_and_permanent_ones_fail_the_row(setup):
    store, job_id, ledger, limiter = setup
    vendor = ScriptedVendor({
        ROWS[0].fields['phone']: [err(errors.VendorServerError, 503)],
        ROWS[1].fields['phone']: [err(errors.ValidationError, 400)],
        ROWS[2].fields['phone']: [err(errors.RateLimited, 429, retry_after_s=0.01)],
    })
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    assert (outcome.delivered, outcome.failed, outcome.deferred) == (3, 1, [])
    status = store.status(job_id)
    assert (status.delivered, status.failed, status.state) == (3, 1, "done")
    assert [row["reason"] for row in store.problem_rows(job_id)] == ["ringostat HTTP 400: boom"]


def test_rows_out_of_attempts_are_deferred_not_failed(setup):
    _, _, ledger, limiter = setup
    vendor = ScriptedVendor({ROWS[0].fields['phone']: [err(errors.VendorServerError, 500)] * 5})
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    assert [row.line for row in outcome.deferred] == [ROWS[0].line]
    assert "500" in outcome.last_error
    assert vendor.sent.count(ROWS[0].fields['phone']) == 3


def test_a_rerun_sends_only_rows_without_an_outcome(setup):
    store, job_id, ledger, limiter = setup
    first = ScriptedVendor({ROWS[3].fields['phone']: [err(errors.VendorConnectionError)] * 3})
    runner(ledger, limiter, first).run(ROWS)
    # When the same chunk runs again (a retry or a redelivered message)
    second = ScriptedVendor({})
    outcome = runner(ledger, limiter, second).run(ROWS)
    # Then only the row still pending is sent
    assert second.sent == [ROWS[3].fields['phone']]
    assert (outcome.skipped, outcome.delivered) == (3, 1)
    assert store.status(job_id).state == "done"


def test_timeouts_count_as_unknown_outcome(setup):
    store, job_id, ledger, limiter = setup
    vendor = ScriptedVendor({ROWS[0].fields['phone']: [err(errors.VendorTimeout)]})
    runner(ledger, limiter, vendor).run(ROWS)
    assert store.status(job_id).unknown_outcome == 1
    assert vendor.sent.count(ROWS[0].fields['phone']) == 2


def test_a_paused_job_stops_the_chunk(setup):
    store, job_id, ledger, limiter = setup
    store.set_state(job_id, "paused")
    outcome = runner(ledger, limiter, ScriptedVendor({})).run(ROWS)
    assert (outcome.stop_reason, outcome.stopped, outcome.delivered) == ("paused", ROWS, 0)


def test_a_row_the_client_cannot_build_fails_and_the_rest_still_go(setup):
    # Given a row whose name is over the vendor's limit: the client's model refuses it before sending
    store, job_id, ledger, limiter = setup
    from vendors.ringostat import CampaignRow

    def send(row):
        CampaignRow(campaign_id=1, phone_number=row.fields["phone"], fio="x" * 300 if row.line == 3 else "ok")

    outcome = runner(ledger, limiter, send).run(ROWS)
    assert (outcome.delivered, outcome.failed) == (3, 1)
    [problem] = store.problem_rows(job_id)
    assert problem["line"] == 3 and problem["reason"].startswith("invalid for the vendor: fio")
    assert store.status(job_id).state == "done"


def test_cancel_leaves_a_row_another_worker_is_sending_to_that_worker(setup):
    store, job_id, ledger, _ = setup
    assert ledger.claim(ROWS[0].line).may_send  # another copy of the chunk is sending it
    # When this copy gives the row up as cancelled
    recorded = ledger.failed(ROWS[0].line, ROWS[0].fields, reason="job cancelled", outcome="cancelled",
                             unclaimed_only=True)
    # Then the sender's answer still counts
    assert recorded is False
    assert ledger.delivered(ROWS[0].line) is True
    assert store.status(job_id).cancelled == 0


def test_a_job_whose_keys_expired_sends_nothing(setup, r):
    store, job_id, ledger, limiter = setup
    r.delete(f"{store._keys.job(job_id)}")
    vendor = ScriptedVendor({})
    outcome = runner(ledger, limiter, vendor).run(ROWS)
    assert vendor.sent == [] and outcome.stop_reason == "gone"


MANY = [JobRow(line, {"phone": f"3809300{line:05d}", "fio": ""}, [line, f"3809300{line:05d}", ""])
        for line in range(2, 22)]


class SlowVendor:
    """Answers after 20 ms, recording how many sends it has at once."""

    def __init__(self, on_send=lambda row: None) -> None:
        self.sent: list[int] = []
        #: how many sends the vendor had, this one included, as each send came
        self.at_once: list[int] = []
        self.now = self.most = 0
        self._lock = threading.Lock()
        self._on_send = on_send

    def __call__(self, row: JobRow) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.sent.append(row.line)
            self.at_once.append(self.now)
        try:
            self._on_send(row)
            time.sleep(0.02)
        finally:
            with self._lock:
                self.now -= 1


def in_flight_runner(ledger, limiter, vendor, n=4, key=None):
    return ChunkRunner(ledger=ledger, limiter=limiter, retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                       send=vendor, in_flight=n, key=key)


def test_a_chunk_sends_its_first_row_alone_until_the_vendor_took_the_accounts_key(r, key_prefix):
    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, MANY, limiter_name="trust")
    key = KeyTrust()
    first, second = SlowVendor(), SlowVendor()
    in_flight_runner(ledger, limiter, first, key=key).run(MANY[:10])
    # Then the first chunk's first row went alone, and the next one only after it was answered
    assert first.at_once[:2] == [1, 1]
    # When the next chunk of the account runs, the vendor having taken the first one's rows
    in_flight_runner(ledger, limiter, second, key=key).run(MANY[10:])
    # Then it starts with all its rows in flight
    assert max(second.at_once[:4]) == 4
    assert store.status(job_id).delivered == len(MANY)


def test_a_key_the_vendor_refuses_is_trusted_no_longer(r, key_prefix):
    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, MANY, limiter_name="untrust")
    key = KeyTrust()
    key.accepted()

    def refuse(row):
        raise errors.AuthError("bad key", status=401, vendor="ringostat")

    # When a chunk of a trusted account meets a 401
    outcome = in_flight_runner(ledger, limiter, refuse, key=key).run(MANY[:8])
    # Then the job is paused and the account's next chunk sends its first row alone again
    assert outcome.stop_reason == "paused" and store.status(job_id).state == "paused"
    assert not key.trusted()


def test_rows_in_flight_are_bounded_and_each_row_is_sent_once(r, key_prefix):
    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, MANY, limiter_name="f")
    vendor = SlowVendor()
    outcome = in_flight_runner(ledger, limiter, vendor).run(MANY)
    # Then 4 rows were at the vendor at once, never more, and each row went once
    assert vendor.most == 4
    assert sorted(vendor.sent) == [row.line for row in MANY]
    assert outcome.delivered == len(MANY) and store.status(job_id).state == "done"


def test_a_pause_mid_chunk_stops_new_sends_and_hands_on_exactly_the_unsent_rows(r, key_prefix):
    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, MANY, limiter_name="p")
    vendor = SlowVendor(on_send=lambda row: store.set_state(job_id, "paused") if row.line == 8 else None)
    outcome = in_flight_runner(ledger, limiter, vendor).run(MANY)
    # Then the sends in flight ended, no new one started, and the rest is handed on: each row
    # either delivered or among the stopped rows, in file order, none of them claimed
    assert outcome.stop_reason == "paused"
    assert len(vendor.sent) <= 8 + 4
    assert sorted(vendor.sent) + [row.line for row in outcome.stopped] == [row.line for row in MANY]
    assert outcome.delivered == len(vendor.sent) == store.status(job_id).delivered
    assert not r.hlen(store._keys.claims(job_id))


def test_a_crash_in_one_send_lets_the_others_end_and_be_marked_first(r, key_prefix):
    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, MANY, limiter_name="c")

    def crash(row):
        if row.line == 5:
            raise KeyError("surprise")

    vendor = SlowVendor(on_send=crash)
    with pytest.raises(KeyError):
        in_flight_runner(ledger, limiter, vendor).run(MANY)
    # Then every row the vendor took is marked delivered (never sent again), and the crashed one
    # was given back as a possible duplicate, for the chunk's retry rounds
    assert store.status(job_id).delivered == len(vendor.sent) - 1
    assert store.status(job_id).unknown_outcome == 1
    assert not r.hlen(store._keys.claims(job_id))


def test_sends_waiting_long_for_their_slot_see_a_pause_and_give_their_rows_back(r, key_prefix):
    # Given an account at 2/s: after the chunk's first row, 4 rows in flight get slots 0.5 s apart
    store, job_id, ledger, _ = job_with_rows(r, key_prefix, MANY[:5], limiter_name="unused")
    keys = Keys(key_prefix)
    limiter = RateLimiter(r, key=keys.limiter("ringostat", "slow"), stats_key=keys.limiter_stats("ringostat", "slow"),
                          rate_per_s=2)
    # When the job is paused as the second row goes out
    vendor = SlowVendor(on_send=lambda row: store.set_state(job_id, "paused") if row.line == MANY[1].line else None)
    outcome = in_flight_runner(ledger, limiter, vendor).run(MANY[:5])
    # Then the rows whose slot was a second or more away were not sent but handed on, unclaimed
    assert outcome.stop_reason == "paused"
    assert MANY[3].line not in vendor.sent and MANY[4].line not in vendor.sent
    assert sorted(vendor.sent) + [row.line for row in outcome.stopped] == [row.line for row in MANY[:5]]
    assert not r.hlen(keys.claims(job_id))


class StaleSlots:
    """A limiter whose reserved slots were all due a second before the senders got to them, as
    when the worker process stalled right after reserving; fresh slots from acquire() are fine."""

    def __init__(self, limiter) -> None:
        self.limiter, self.acquired = limiter, 0

    def reserve(self, slots=1, missed=0):
        reservation = self.limiter.reserve(slots, missed=missed)
        return dataclasses.replace(reservation, due=tuple(due - 1.0 for due in reservation.due))

    def acquire(self, **kwargs):
        self.acquired += 1
        return self.limiter.acquire(**kwargs)

    def __getattr__(self, name):
        return getattr(self.limiter, name)


def test_rows_whose_slots_passed_while_the_process_stalled_are_sent_in_new_slots(r, key_prefix):
    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, MANY, limiter_name="stale")
    stale = StaleSlots(limiter)
    vendor = SlowVendor()
    outcome = in_flight_runner(ledger, stale, vendor).run(MANY)
    # Then no row went out in a slot that had passed: each took a new one, and each went once
    assert stale.acquired == len(MANY)
    assert sorted(vendor.sent) == [row.line for row in MANY]
    assert outcome.delivered == len(MANY) and store.status(job_id).state == "done"


def test_sends_ending_one_at_a_time_are_launched_in_groups_not_row_by_row(r, key_prefix):
    # Given 8 rows in flight whose sends end a few ms apart (the vendor answers in 1-8 ms)
    rows = MANY + [JobRow(line, {"phone": f"3809300{line:05d}", "fio": ""}, [line, f"3809300{line:05d}", ""])
                   for line in range(22, 62)]
    store, job_id, ledger, limiter = job_with_rows(r, key_prefix, rows, limiter_name="g")
    calls = {"claim_many": 0, "delivered_many": 0}

    def counted(name):
        method = getattr(ledger, name)

        def call(*args, **kwargs):
            calls[name] += 1
            return method(*args, **kwargs)
        return call

    ledger.claim_many, ledger.delivered_many = counted("claim_many"), counted("delivered_many")
    sent = []

    def vendor(row):
        sent.append(row.line)
        time.sleep(0.001 * (row.line % 8 + 1))

    outcome = in_flight_runner(ledger, limiter, vendor, n=8).run(rows)
    # Then every row went once, and the claims and delivered marks came a group of at least
    # 4 rows at a time (half the places in flight) or after a short linger, not one per row
    # (row by row, this made 35 claims); the last group's marks go as its sends end
    assert sorted(sent) == [row.line for row in rows] and outcome.delivered == len(rows)
    assert store.status(job_id).state == "done"
    assert calls["claim_many"] <= 1 + len(rows) / 3
    assert calls["delivered_many"] <= 1 + len(rows) / 3 + 8


def test_a_send_waking_well_after_its_slot_takes_a_new_one_and_goes_once(r, key_prefix, monkeypatch):
    # Given an account at 20/s (slots 50 ms apart) and senders whose sleeps overrun by 60 ms (a stall)
    import tasks.chunk_runner as chunk_runner

    store, job_id, ledger, _ = job_with_rows(r, key_prefix, MANY[:6], limiter_name="unused")
    keys = Keys(key_prefix)
    limiter = RateLimiter(r, key=keys.limiter("ringostat", "late"), stats_key=keys.limiter_stats("ringostat", "late"),
                          rate_per_s=20)
    acquired = []
    acquire = limiter.acquire
    limiter.acquire = lambda **kw: (acquired.append(1), acquire(**kw))[1]

    class Stalled:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds):
            time.sleep(seconds + 0.06)

    monkeypatch.setattr(chunk_runner, "time", Stalled)
    sent = []
    outcome = in_flight_runner(ledger, limiter, lambda row: sent.append(row.line)).run(MANY[:6])
    # Then the late ones gave their slot back and went with a new one: each row sent once, all delivered
    assert sorted(sent) == [row.line for row in MANY[:6]] and outcome.delivered == 6
    assert acquired, "no late send took a new slot"
    assert store.status(job_id).delivered == 6 and not r.hlen(keys.claims(job_id))


def test_a_sender_is_readied_before_it_waits_for_its_slot(r, key_prefix):
    # Given an account at 20/s and a send whose set-up (a new thread's client) is recorded
    store, job_id, ledger, _ = job_with_rows(r, key_prefix, MANY[:4], limiter_name="unused")
    keys = Keys(key_prefix)
    limiter = RateLimiter(r, key=keys.limiter("ringostat", "warm"), stats_key=keys.limiter_stats("ringostat", "warm"),
                          rate_per_s=20)
    events = []
    runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                         send=lambda row: events.append(("send", time.monotonic())), in_flight=4,
                         warm=lambda: events.append(("warm", time.monotonic())))
    outcome = runner.run(MANY[:4])
    # Then every send was readied first, before its slot came (slots 50 ms apart: the last ones waited)
    assert outcome.delivered == 4
    assert [name for name, _ in events].count("warm") == 4
    warms = [at for name, at in events if name == "warm"]
    sends = [at for name, at in events if name == "send"]
    assert sorted(warms)[-1] < sorted(sends)[-1] - 0.03


def test_a_request_made_too_slowly_for_its_slot_goes_not_at_all_and_then_in_a_new_slot(r, key_prefix):
    # Given an account at 20/s (a send may start at most 50 ms after its slot) and sends whose
    # request takes 80 ms to make (a busy process) before its first byte would go out
    from vendors import deadline

    store, job_id, ledger, _ = job_with_rows(r, key_prefix, MANY[:4], limiter_name="unused")
    keys = Keys(key_prefix)
    limiter = RateLimiter(r, key=keys.limiter("ringostat", "slowmake"),
                          stats_key=keys.limiter_stats("ringostat", "slowmake"), rate_per_s=20)
    sent = []

    def vendor(row):
        time.sleep(0.08)
        deadline.check_start()  # where the HTTP layer checks, as the request's first byte goes
        sent.append(row.line)

    outcome = in_flight_runner(ledger, limiter, vendor).run(MANY[:4])
    # Then no row went out in the slot it was made too slowly for: each went once, in a new slot,
    # counted as a slot given up late, and none counted as a possible duplicate
    assert sorted(sent) == [row.line for row in MANY[:4]] and outcome.delivered == 4
    assert int(r.hget(keys.limiter_stats("ringostat", "slowmake"), "missed")) >= 4
    assert store.status(job_id).unknown_outcome == 0 and not r.hlen(keys.claims(job_id))
