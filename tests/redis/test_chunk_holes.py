"""No stranded row (issue 8): each hole the runner had, against a real ledger, limiter and worker runtime."""

from __future__ import annotations

import json
import time

import pytest

import tasks.runtime
from tasks.chunk_runner import ChunkRunner
from tasks.chunk_task import follow_up, run_chunk
from tasks.obzvonilka import upsert_contact, upsert_row
from tasks.retry import RetryPolicy
from tasks.ringostat import ADD_CHUNK, CampaignChunkPayload, add_campaign_chunk, campaign_row
from tests.support.scripted import ScriptedVendor, err, job_with_rows
from vendors import errors
from workers.jobs.control import JobControl
from workers.jobs.ledger import Ledger
from workers.limits.limiter import RateLimiter, Reservation
from workers.redis.keys import Keys
from workers.settings import get_settings

ROWS = [campaign_row([line, f"38093000000{line}", f"name {line}"]) for line in range(2, 6)]


@pytest.fixture
def worker_runtime(redis_url, key_prefix, monkeypatch):
    """The real WorkerRuntime (park, defer, dead letters) on this test's key prefix; publishes are recorded."""
    from workers.runtime.worker_runtime import WorkerRuntime

    published: list[tuple[str, dict]] = []
    with monkeypatch.context() as env:
        env.setenv("TELEQUEUE_KEY_PREFIX", key_prefix)
        env.setenv("TELEQUEUE_RETRY__MAX_TASK_RETRIES", "2")
        get_settings.cache_clear()
        before = tasks.runtime._runtime
        runtime = WorkerRuntime(lambda name, kwargs, **_: published.append((name, kwargs)))
        tasks.runtime.install(runtime)
        try:
            yield runtime, published
        finally:
            tasks.runtime._runtime = before
    get_settings.cache_clear()


@pytest.fixture
def setup(r, key_prefix):
    return job_with_rows(r, key_prefix, ROWS, limiter_name="holes")


def runner(ledger, limiter, vendor, **kwargs):
    policy = RetryPolicy(in_task_attempts=3, in_task_backoff_s=0.001)
    return ChunkRunner(ledger=ledger, limiter=limiter, retry=policy, lease_s=0.01, send=vendor,
                       sleep=lambda s: None, **kwargs)


class ResumedMeanwhile:
    """A limiter that gives up because the job is paused, and the job is resumed right after."""

    def __init__(self, limiter, store, job_id) -> None:
        self.limiter, self.store, self.job_id, self.gave_up = limiter, store, job_id, False

    def reserve(self, slots=1, missed=0):
        if not self.gave_up:
            self.gave_up = True
            self.store.set_state(self.job_id, "paused")
            self.store.set_state(self.job_id, "running")
            return Reservation(False, 6.0)  # the schedule is full further than max_wait
        return self.limiter.reserve(slots, missed=missed)

    def __getattr__(self, name):
        return getattr(self.limiter, name)


def test_a_resume_right_after_the_limiter_gave_up_on_a_pause_still_sends_the_row(setup):
    store, job_id, ledger, limiter = setup
    vendor = ScriptedVendor({})
    outcome = runner(ledger, ResumedMeanwhile(limiter, store, job_id), vendor).run(ROWS)
    # The first row is neither lost nor stranded: it is sent, and the job ends
    assert (outcome.delivered, outcome.stopped, outcome.deferred) == (4, [], [])
    assert store.status(job_id).state == "done"


def test_a_resend_after_a_5xx_counts_as_an_unknown_outcome_and_a_503_with_retry_after_does_not(setup):
    store, job_id, ledger, limiter = setup
    vendor = ScriptedVendor({
        ROWS[0].fields["phone"]: [err(errors.VendorServerError, 502)],
        ROWS[1].fields["phone"]: [err(errors.VendorUnavailable, 503, retry_after_s=0.01)],
    })
    runner(ledger, limiter, vendor).run(ROWS)
    status = store.status(job_id)
    assert (status.delivered, status.unknown_outcome) == (4, 1)
    assert vendor.sent.count(ROWS[0].fields["phone"]) == 2


def test_an_auth_error_pauses_the_job_and_resume_sends_the_rest(setup, r, key_prefix, worker_runtime):
    store, job_id, ledger, limiter = setup
    runtime, published = worker_runtime
    refused = ScriptedVendor({row.fields["phone"]: [err(errors.AuthError, 401)] for row in ROWS[1:]})
    outcome = runner(ledger, limiter, refused).run(ROWS)
    # Then one 401 reached the vendor, no row failed, and the job is paused with the reason
    assert refused.sent == [ROWS[0].fields["phone"], ROWS[1].fields["phone"]]
    assert (outcome.delivered, outcome.failed, outcome.stop_reason, outcome.stopped) == (1, 0, "paused", ROWS[1:])
    status = store.status(job_id)
    assert (status.state, status.failed) == ("paused", 0)
    assert "auth error: ringostat HTTP 401: boom" in status.pause_reason
    assert not r.hexists(Keys(key_prefix).claims(job_id), ROWS[1].line)  # the row in hand was released
    # And the chunk's rows are parked like a pause; resuming publishes them and they go out
    payload = CampaignChunkPayload(job_id=job_id, campaign_id=1, rows=[row.wire for row in ROWS])
    follow_up(ADD_CHUNK, payload, outcome)
    JobControl(r, Keys(key_prefix), lambda name, kwargs: published.append((name, kwargs))).resume(job_id)
    [(_, kwargs)] = published
    assert [wire[0] for wire in kwargs["rows"]] == [row.line for row in ROWS[1:]]
    assert store.status(job_id).pause_reason == ""
    runner(ledger, limiter, ScriptedVendor({})).run([campaign_row(wire) for wire in kwargs["rows"]])
    assert (store.status(job_id).state, store.status(job_id).delivered) == ("done", 4)


def test_poison_rows_are_reported_or_dead_lettered_at_once_and_never_reach_the_bitmap(r, key_prefix, worker_runtime):
    # Given a chunk with a short row, a negative line and a line of 4294967295 among good rows
    good = [campaign_row([2, "380930000002", "a"]), campaign_row([6, "380930000006", "b"])]
    store, job_id, _, _ = job_with_rows(r, key_prefix, good + [campaign_row([4, "x", "y"])], limiter_name="p")
    rows = [[2, "380930000002", "a"], [4, "380930000004"], [-1, "380930000009", "c"],
            [4294967295, "380930000009", "d"], [6, "380930000006", "b"]]
    vendor = ScriptedVendor({})
    # When it runs once
    result = run_chunk(ADD_CHUNK, "ringostat", CampaignChunkPayload(job_id=job_id, campaign_id=1, rows=rows),
                       to_row=campaign_row, send=vendor)
    # Then the good rows go, the short one fails into the report, the lineless ones are dead letters
    assert vendor.sent == ["380930000002", "380930000006"] and result["delivered"] == 2
    [problem] = store.problem_rows(job_id)
    assert problem["line"] == 4 and problem["reason"].startswith("malformed row in the chunk: ValueError")
    keys = Keys(key_prefix)
    dead = [json.loads(entry) for entry in r.lrange(keys.dead_chunks(), 0, -1)]
    assert sorted(entry["payload"]["row"][0] for entry in dead) == [-1, 4294967295]
    assert int(r.hget(keys.dead_chunks_count(), ADD_CHUNK)) == 2
    assert r.strlen(keys.delivered(job_id)) == 1  # bits 2 and 6: one byte, not 512 MiB
    assert store.status(job_id).state == "done"
    assert r.zcard(keys.deferred()) == 0  # nothing requeued


@pytest.mark.parametrize("change, error", [
    ({"priority": 5}, "invalid payload"),             # a field a newer producer added
    ({"account": "nobody"}, "no ringostat account 'nobody'"),  # an account this worker does not know
])
def test_a_chunk_that_fails_before_its_runner_is_retried_in_rounds_then_reported(r, key_prefix, worker_runtime,
                                                                                 change, error):
    store, job_id, _, _ = job_with_rows(r, key_prefix, ROWS, limiter_name="u")
    payload = {"job_id": job_id, "campaign_id": 1, "rows": [row.wire for row in ROWS], **change}
    keys = Keys(key_prefix)
    # When a worker that cannot run it takes it: it goes to the deferred set as it came, one round on
    add_campaign_chunk(**payload)
    [entry] = [json.loads(raw) for raw in r.zrange(keys.deferred(), 0, -1)]
    assert entry["kwargs"] == {**payload, "attempt": 1}
    # And once the rounds are used up, every row fails into the report with why
    add_campaign_chunk(**{**payload, "attempt": 2})
    status = store.status(job_id)
    assert (status.failed, status.state) == (4, "done")
    assert all(error in row["reason"] for row in store.problem_rows(job_id))


def test_a_chunk_without_a_job_id_is_a_counted_dead_letter(r, key_prefix, worker_runtime):
    add_campaign_chunk(campaign_id=1, rows=[[2, "380930000002", ""]])
    keys = Keys(key_prefix)
    [entry] = [json.loads(raw) for raw in r.lrange(keys.dead_chunks(), 0, -1)]
    assert entry["task"] == ADD_CHUNK and entry["payload"]["rows"] == [[2, "380930000002", ""]]
    assert int(r.hget(keys.dead_chunks_count(), ADD_CHUNK)) == 1


class Recorder:
    """Ledger and limiter calls in order, with the client's requests, for the upsert."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []

    def wrap(self, obj, *names):
        for name in names:
            method = getattr(obj, name)

            def recorded(*args, _method=method, _name=name, **kwargs):
                self.events.append((_name, time.monotonic()))
                return _method(*args, **kwargs)

            setattr(obj, name, recorded)
        return obj


class UpsertClient:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def find_contact_by_external_code(self, base_id, code):
        self.recorder.events.append(("request", time.monotonic()))

    def create_contact(self, base_id, fields):
        self.recorder.events.append(("request", time.monotonic()))


def test_the_upsert_reserves_both_slots_before_its_claim_and_keeps_the_rate(r, key_prefix, worker_runtime):
    # Given three upsert rows and an account limited to 20 requests/s, burst 1
    rows = [upsert_row([line, f"C-{line}", "380930000001", "", {}]) for line in (2, 3, 4)]
    store, job_id, _, _ = job_with_rows(r, key_prefix, rows, limiter_name="unused")
    keys = Keys(key_prefix)
    recorder = Recorder()
    limiter = recorder.wrap(RateLimiter(r, key=keys.limiter("obzvonilka", "t"), stats_key=keys.limiter_stats(
        "obzvonilka", "t"), rate_per_s=20, burst=1), "reserve")
    ledger = recorder.wrap(Ledger(r, keys, job_id, lease_s=30), "claim_many", "delivered_many")
    client = UpsertClient(recorder)
    policy = RetryPolicy(in_task_attempts=2)
    ChunkRunner(ledger=ledger, limiter=limiter, retry=policy, lease_s=30, slots_per_send=2,
                send=lambda row: upsert_contact(client, limiter, 7, row)).run(rows)
    names = [name for name, _ in recorder.events]
    # Then each row's two slots are reserved before its claim, none while it is claimed and its
    # requests go (claim .. request, request); its delivered mark goes with the next row's claim,
    # the last row's on its own
    assert names == ["reserve", "claim_many", "request", "request"] * 3 + ["delivered_many"]
    # And the six requests keep the account's 20/s, the write's slot included: 5 intervals of 50 ms
    # at least from the first to the last (each one sent in its own slot, give or take a round trip)
    sent = [at for name, at in recorder.events if name == "request"]
    assert sent[-1] - sent[0] >= 5 * 0.05 - 0.01, sent
    assert store.status(job_id).state == "done"


def test_a_send_that_keeps_crashing_ends_in_the_report_after_the_rounds(r, key_prefix, worker_runtime):
    # Given a send that raises something no one expected, on the chunk's last round (max_task_retries 2)
    store, job_id, _, _ = job_with_rows(r, key_prefix, ROWS[:1], limiter_name="c")

    def crash(row):
        raise KeyError("surprise")

    payload = CampaignChunkPayload(job_id=job_id, campaign_id=1, rows=[ROWS[0].wire], attempt=2)
    assert run_chunk(ADD_CHUNK, "ringostat", payload, to_row=campaign_row, send=crash) == {"error": 1}
    # Then its claim was given back, so the row fails into the report instead of staying pending for ever
    [problem] = store.problem_rows(job_id)
    assert "gave up after 3 rounds of retries: internal error: KeyError" in problem["reason"]
    assert store.status(job_id).state == "done"


def test_a_chunk_that_cannot_run_in_a_paused_job_is_parked_as_it_came(r, key_prefix, worker_runtime):
    store, job_id, _, _ = job_with_rows(r, key_prefix, ROWS, limiter_name="u")
    store.set_state(job_id, "paused")
    payload = {"job_id": job_id, "campaign_id": 1, "rows": [row.wire for row in ROWS], "account": "nobody"}
    add_campaign_chunk(**payload)
    [parked] = [json.loads(raw) for raw in r.lrange(Keys(key_prefix).parked(job_id), 0, -1)]
    assert parked == {"task": ADD_CHUNK, "kwargs": payload}
    assert store.status(job_id).failed == 0


def test_an_auth_error_in_an_aborted_load_pauses_it_too_and_its_failed_rows_can_be_retried(
        setup, r, key_prefix, worker_runtime):
    store, job_id, ledger, limiter = setup
    # Given a load whose producer stopped early: its enqueued rows are still being sent
    r.hset(Keys(key_prefix).job(job_id), mapping={"state": "aborted", "aborted": 1, "error": "the producer vanished"})
    refused = ScriptedVendor({row.fields["phone"]: [err(errors.AuthError, 401)] for row in ROWS})
    outcome = runner(ledger, limiter, refused).run(ROWS)
    # Then the first 401 pauses it, as for any running job: no row fails with the same 401
    assert (outcome.failed, outcome.stop_reason, len(refused.sent)) == (0, "paused", 1)
    assert store.status(job_id).state == "paused"
    # And a resume takes it back to `aborted`, whose rows still go out; its failed rows can be retried
    control = JobControl(r, Keys(key_prefix), lambda name, kwargs: None)
    control.resume(job_id)
    assert store.status(job_id).state == "aborted"
    ledger.failed(ROWS[0].line, ROWS[0].fields, reason="refused", wire=ROWS[0].wire)
    r.hset(Keys(key_prefix).job(job_id), mapping={"kind": "ringostat-campaign",
                                                  "params": json.dumps({"campaign_id": 1, "account": "default"})})
    assert control.retry_failed(job_id) == 1
    assert store.status(job_id).state == "aborted"
