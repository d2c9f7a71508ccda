"""The row ledger: a row with an outcome is never sent again; counters add up."""

from __future__ import annotations

import json

import pytest
import redis

from workers.jobs.store import JobStore
from workers.redis.keys import Keys
from workers.jobs.ledger import Claim, Ledger


@pytest.fixture
def job(r, key_prefix):
    keys = Keys(key_prefix)
    store = JobStore(r, keys)
    job_id = store.create(kind="test", vendor="ringostat", account="default", target="t")
    store.add_rows(job_id, valid=3, rejects=[{"line": 5, "phone": "x", "fio": "", "reason": "not a phone number"}])
    return store, keys, job_id


def test_a_row_is_claimed_once_and_never_again_after_delivery(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    assert ledger.claim(2) is Claim.CLAIMED
    # A second worker (a redelivered copy) must not send it while the first one may be sending
    assert Ledger(r, keys, job_id, lease_s=30).claim(2) is Claim.BUSY
    assert ledger.delivered(2) is True
    assert ledger.claim(2) is Claim.DONE
    # Recording the outcome again changes nothing
    assert ledger.delivered(2) is False
    assert store.status(job_id).delivered == 1


def test_an_expired_lease_is_taken_over_and_counted_as_unknown_outcome(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=0.05)
    assert ledger.claim(3) is Claim.CLAIMED
    r.hset(keys.claims(job_id), 3, 1)  # the claimer died long ago
    assert Ledger(r, keys, job_id, lease_s=0.05).claim(3) is Claim.RECLAIMED
    assert store.status(job_id).unknown_outcome == 1
    assert int(r.hget(keys.unknown(job_id), 3)) == 1


def test_release_after_timeout_marks_unknown_outcome(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    ledger.claim(4)
    ledger.release(4, unknown_outcome=True)
    assert ledger.claim(4) is Claim.CLAIMED
    assert store.status(job_id).unknown_outcome == 1


def test_job_is_done_when_every_valid_row_has_an_outcome(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    ledger.delivered(2)
    ledger.failed(3, {"phone": "380930000000", "fio": "=cmd"}, reason="ringostat HTTP 400: bad")
    store.mark_produced(job_id)
    assert store.status(job_id).state == "running"
    assert r.ttl(keys.job(job_id)) == -1  # running: no expiry
    ledger.delivered(4)
    status = store.status(job_id)
    assert (status.state, status.pending, status.accounted, status.total) == ("done", 0, 4, 4)
    assert status.finished
    lines = [(row["line"], row["status"]) for row in store.problem_rows(job_id)]
    assert lines == [(3, "failed"), (5, "rejected")]
    # And a finished job's keys expire together (settings.job_ttl_s), none left behind forever
    existing = [key for key in keys.job_keys(job_id) if r.exists(key)]
    assert len(existing) >= 4 and all(0 < r.ttl(key) <= 14 * 24 * 3600 for key in existing)


def test_finished_lines_in_one_round_trip(r, job):
    _, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    ledger.delivered(2)
    ledger.failed(3, {"phone": "p", "fio": ""}, reason="x")
    assert ledger.finished_lines([2, 3, 4]) == {2, 3}
    assert ledger.finished_lines([]) == set()


def test_paused_and_cancelled_jobs_hand_out_no_claims(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    store.set_state(job_id, "paused")
    assert ledger.claim(2) is Claim.PAUSED
    store.set_state(job_id, "cancelled")
    assert ledger.claim(2) is Claim.CANCELLED
    assert json.loads(r.hget(keys.job(job_id), "params")) == {}


def expire_lease(r, keys, job_id, line):
    """The holder's lease ran out (it hung or died), its owner unchanged."""
    r.hset(keys.claims(job_id), line, 1)


def test_the_owner_claiming_again_renews_its_lease_instead_of_busy_or_a_counted_resend(r, job):
    # Given a claim whose reply was lost, so redis-py runs the same script again
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    assert ledger.claim(2) is Claim.CLAIMED
    # When the same owner claims again, even after its lease ran out
    assert ledger.claim(2) is Claim.CLAIMED
    expire_lease(r, keys, job_id, 2)
    assert ledger.claim(2) is Claim.CLAIMED
    # Then nothing is counted as a possible duplicate, and the lease is live again
    assert store.status(job_id).unknown_outcome == 0
    assert Ledger(r, keys, job_id, lease_s=30).claim(2) is Claim.BUSY


def test_only_the_owner_releases_a_row(r, job):
    # Given worker A whose lease ran out mid-send, and worker B that took the row over
    store, keys, job_id = job
    a, b, c = (Ledger(r, keys, job_id, lease_s=30) for _ in range(3))
    assert a.claim(2) is Claim.CLAIMED
    expire_lease(r, keys, job_id, 2)
    assert b.claim(2) is Claim.RECLAIMED
    # When A's timeout finally comes and A gives the row back
    assert a.release(2, unknown_outcome=True) is False
    # Then B still holds it: a third worker may not send it alongside B, and nothing more is counted
    assert c.claim(2) is Claim.BUSY
    assert store.status(job_id).unknown_outcome == 1
    assert b.release(2, unknown_outcome=False) is True
    assert c.claim(2) is Claim.CLAIMED


def test_a_finish_never_ends_another_owners_live_lease(r, job):
    store, keys, job_id = job
    a, b = Ledger(r, keys, job_id, lease_s=30), Ledger(r, keys, job_id, lease_s=30)
    a.claim(3)
    expire_lease(r, keys, job_id, 3)
    assert b.claim(3) is Claim.RECLAIMED
    # A's late answer does not end the row B is sending; B's does
    assert a.delivered(3) is False
    assert b.delivered(3) is True
    assert store.status(job_id).delivered == 1
    # A non-owner giving a row up (cancel marking) leaves any live lease alone, the owner's too
    a.claim(4)
    assert b.failed(4, {}, reason="job cancelled", outcome="cancelled", unclaimed_only=True) is False
    assert a.failed(4, {}, reason="job cancelled", outcome="cancelled", unclaimed_only=True) is False
    assert a.delivered(4) is True


def test_lines_outside_the_job_never_reach_the_bitmap(r, key_prefix):
    # Given a job whose producer read up to line 6
    keys = Keys(key_prefix)
    store = JobStore(r, keys)
    job_id = store.create(kind="test", vendor="ringostat", account="default", target="t")
    store.add_rows(job_id, valid=5, rejects=[], last_line=6)
    ledger = Ledger(r, keys, job_id, lease_s=30)
    assert ledger.line_limit() == 6
    # When a chunk names lines that are no rows of it
    for line in (4294967295, 7, 0, -1, "x"):
        assert ledger.claim(line) is Claim.BADLINE
        with pytest.raises(redis.ResponseError, match="is not a row of this job"):
            ledger.delivered(line)
        with pytest.raises(redis.ResponseError, match="is not a row of this job"):
            ledger.delivered_many([line])
        with pytest.raises(redis.ResponseError, match="is not a row of this job"):
            ledger.claim_many([1], delivered=[line])
    # Then no bit was set (a line of 4294967295 would have allocated 512 MiB) and nothing counted
    assert r.strlen(keys.delivered(job_id)) == 0
    assert store.status(job_id).delivered == 0
    assert ledger.claim(6) is Claim.CLAIMED


def test_the_lease_outlasts_the_slowest_call_of_any_vendor_by_the_margin():
    from workers.runtime.worker_runtime import LEASE_MARGIN_S, WorkerRuntime
    from workers.routing import VENDORS
    from workers.settings import Settings

    for settings in (Settings(), Settings(row_lease_s=1, obzvonilka={"total_timeout_s": 42})):
        runtime = WorkerRuntime(publish=None, settings=settings)
        slowest = max(settings.vendor(v).total_timeout_s for v in VENDORS)
        # every HTTP call of a send ends within send_budget_s (vendors.deadline), the lease a margin later
        assert runtime.send_budget_s >= slowest
        assert runtime.row_lease_s == runtime.send_budget_s + LEASE_MARGIN_S >= settings.row_lease_s
    assert runtime.row_lease_s == 42 + LEASE_MARGIN_S


def test_the_producer_records_the_highest_line_read_whatever_the_order(r, key_prefix):
    from tasks.ringostat import CampaignChunkRow
    from workers.jobs.producer import produce

    keys = Keys(key_prefix)
    store = JobStore(r, keys)
    job_id = store.create(kind="test", vendor="ringostat", account="default", target="t", producer="p1")
    rows = [CampaignChunkRow(9, "p", ""), CampaignChunkRow(3, "p", ""), CampaignChunkRow(4, "p", "")]
    produce(job_id, rows, store=store, producer="p1", chunk_size=2,
            build=lambda chunk: ("test.chunk", {"rows": chunk}, {}), publish=lambda *a, **k: None,
            to_wire=lambda row: [row.line, row.phone, row.fio])
    assert Ledger(r, keys, job_id, lease_s=30).line_limit() == 9


def test_many_rows_are_claimed_in_one_call_with_a_verdict_each(r, job):
    # Given row 2 delivered, row 3 held by another worker's live lease, row 4 by a dead one's
    store, keys, job_id = job
    ledger, other, dead = (Ledger(r, keys, job_id, lease_s=30) for _ in range(3))
    ledger.delivered(2)
    assert other.claim(3) is Claim.CLAIMED
    assert dead.claim(4) is Claim.CLAIMED
    expire_lease(r, keys, job_id, 4)
    # When one call claims rows 2, 3, 4, 1 and 0 (no row of any job)
    claims = ledger.claim_many([2, 3, 4, 1, 0])
    # Then each row gets what a single claim would answer
    assert claims.stop is None
    assert claims.verdicts == {2: Claim.DONE, 3: Claim.BUSY, 4: Claim.RECLAIMED, 1: Claim.CLAIMED, 0: Claim.BADLINE}
    assert claims.claimed == [4, 1]
    # And the busy row's lease left comes with the answer (no second round trip to wait it out)
    assert 29 < claims.busy_left_s <= 30
    assert store.status(job_id).unknown_outcome == 1
    assert other.claim(1) is Claim.BUSY  # our claims are live leases with us as owner
    assert ledger.claim_many([1]).verdicts == {1: Claim.CLAIMED}  # our own claim run again renews it


def test_claim_many_stops_for_a_paused_job_and_its_leases_cover_the_extra_wait(r, job):
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=1)
    ledger.claim_many([2], extra_lease_s=10)
    # the lease covers the wait for the row's limiter slot as well as its send
    assert 10 < Ledger(r, keys, job_id, lease_s=1).claim_many([2]).busy_left_s <= 11
    store.set_state(job_id, "paused")
    claims = ledger.claim_many([3, 4])
    assert (claims.stop, claims.claimed, claims.verdicts[3]) == (Claim.PAUSED, [], Claim.PAUSED)
    assert r.hget(keys.claims(job_id), 3) is None


def test_claim_many_marks_the_sends_that_ended_delivered_in_the_same_call(r, job):
    # Given rows 2 and 3 sent by us, and row 4 held by a worker whose lease ran out
    store, keys, job_id = job
    ledger, dead = Ledger(r, keys, job_id, lease_s=30), Ledger(r, keys, job_id, lease_s=30)
    ledger.claim_many([2, 3])
    dead.claim(4)
    expire_lease(r, keys, job_id, 4)
    # When the next claim carries their delivered marks
    claims = ledger.claim_many([4], delivered=[2, 3])
    # Then both are delivered and unclaimed, and row 4 is claimed as a single claim would be
    assert claims.stop is None and claims.verdicts == {4: Claim.RECLAIMED}
    assert store.status(job_id).delivered == 2 and not r.hexists(keys.claims(job_id), 2)
    assert store.status(job_id).unknown_outcome == 1 and r.hget(keys.unknown(job_id), 4) == b"1"
    # And marks carried by a claim the job's pause stops are recorded all the same
    store.set_state(job_id, "paused")
    claims = ledger.claim_many([2], delivered=[4])
    assert claims.stop is Claim.PAUSED and store.status(job_id).delivered == 3
    # And the job ends once every row has its outcome, as with delivered_many
    store.set_state(job_id, "running")
    store.mark_produced(job_id)
    assert ledger.claim_many([2], delivered=[4]).verdicts == {2: Claim.DONE}
    assert store.status(job_id).state == "done"


def test_the_last_mark_carried_by_a_claim_ends_the_job_and_its_keys_expire(r, job):
    # Given every row counted and enqueued (the producer is done), rows 2 and 3 delivered, and
    # row 4 sent by us but not marked yet
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30)
    store.mark_produced(job_id)
    ledger.claim_many([2, 3, 4])
    ledger.delivered_many([2, 3])
    assert r.hget(keys.job(job_id), "state") == b"running"
    # When a claim carries row 4's mark
    ledger.claim_many([2], delivered=[4])
    # Then the job is done (read from the hash: status() would finish it on the way) and its
    # keys expire together
    assert r.hget(keys.job(job_id), "state") == b"done"
    existing = [key for key in keys.job_keys(job_id) if r.exists(key)]
    assert len(existing) >= 2 and all(r.ttl(key) > 0 for key in existing)


def test_a_claim_carrying_marks_run_twice_records_and_counts_once(r, job):
    # Given row 2 sent by us, row 4 held by a worker whose lease ran out
    store, keys, job_id = job
    ledger, dead = Ledger(r, keys, job_id, lease_s=30), Ledger(r, keys, job_id, lease_s=30)
    ledger.claim_many([2])
    dead.claim(4)
    expire_lease(r, keys, job_id, 4)
    # When the claim carrying row 2's mark runs twice (redis-py retrying after a lost reply)
    first = ledger.claim_many([4], delivered=[2])
    again = ledger.claim_many([4], delivered=[2])
    # Then row 2 is delivered once, row 4's takeover counted once, and the second run renews our lease
    assert (first.verdicts, again.verdicts) == ({4: Claim.RECLAIMED}, {4: Claim.CLAIMED})
    status = store.status(job_id)
    assert (status.delivered, status.unknown_outcome) == (1, 1)
    assert dead.claim(4) is Claim.BUSY


def test_a_claim_carrying_marks_claims_only_the_lines_asked_for(r, job):
    # Given a ledger whose TTL (the script's last argument) is also a line of the job
    store, keys, job_id = job
    ledger = Ledger(r, keys, job_id, lease_s=30, ttl_s=3)
    ledger.claim_many([2])
    # When a claim of row 4 carries row 2's mark
    claims = ledger.claim_many([4], delivered=[2])
    # Then row 4 alone is claimed: the TTL is not taken for a line
    assert claims.verdicts == {4: Claim.CLAIMED}
    assert set(r.hkeys(keys.claims(job_id))) == {b"4", b"4:owner"}


def test_delivered_many_in_one_call_is_owner_checked(r, job):
    # Given rows 2 and 3 claimed by us, row 4 taken over by another worker after our lease ran out
    store, keys, job_id = job
    ledger, other = Ledger(r, keys, job_id, lease_s=30), Ledger(r, keys, job_id, lease_s=30)
    ledger.claim_many([2, 3, 4])
    expire_lease(r, keys, job_id, 4)
    assert other.claim(4) is Claim.RECLAIMED
    # When we mark all three delivered in one call
    assert ledger.delivered_many([2, 3, 4]) == [True, True, False]
    # Then the other owner's live lease is left alone, and marking again changes nothing
    assert ledger.delivered_many([2, 3]) == [False, False]
    assert other.claim(4) is Claim.CLAIMED
    assert (store.status(job_id).delivered, r.hexists(keys.claims(job_id), 2)) == (2, False)
    # And the job ends once the last row has its outcome, as with single finishes
    store.mark_produced(job_id)
    assert other.delivered_many([4]) == [True]
    assert store.status(job_id).state == "done"
