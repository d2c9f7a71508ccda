"""The per-task ledger of non-idempotent single operations, on real Redis: which run may send."""

from __future__ import annotations

import time

from workers.redis.keys import Keys
from workers.runtime.once_ledger import OnceLedger


def ledger(r, key_prefix) -> OnceLedger:
    return OnceLedger(r, Keys(key_prefix), ttl_s=600)


def test_one_send_per_task_id_and_the_result_for_every_later_copy(r, key_prefix):
    once = ledger(r, key_prefix)
    first = once.enter("t1", attempt=0, lease_s=30)
    assert first.verdict == "send"
    # A second copy while the first sends must not send
    assert once.enter("t1", attempt=0, lease_s=30).verdict == "busy"
    assert once.sent("t1", first.run, {"id": 7}, attempt=0)
    # A redelivered copy after the send gets the recorded result
    again = once.enter("t1", attempt=0, lease_s=30)
    assert (again.verdict, again.result, again.sent_at_s) == ("sent", {"id": 7}, first.sent_at_s)
    assert r.ttl(f"{key_prefix}once:t1") > 0
    assert once.sent_entry("t1").result == {"id": 7} and once.sent_entry("t0") is None


def test_a_retry_in_the_deferred_set_makes_the_unacked_original_stale(r, key_prefix):
    # Given attempt 0 handed the task id on to attempt 1 (written to the deferred set first)
    once = ledger(r, key_prefix)
    run = once.enter("t2", attempt=0, lease_s=30).run
    assert once.handoff("t2", run, attempt=0, next_attempt=1, unknown=False)
    # When the original message comes back (its worker died before acking), and the retry runs
    stale, retry = once.enter("t2", attempt=0, lease_s=30), once.enter("t2", attempt=1, lease_s=30)
    # Then only the retry sends
    assert (stale.verdict, retry.verdict) == ("stale", "send")


def test_after_an_unknown_outcome_or_a_lapsed_lease_the_next_run_checks_first(r, key_prefix):
    once = ledger(r, key_prefix)
    first = once.enter("t3", attempt=0, lease_s=30)
    sent_at = first.sent_at_s
    assert once.handoff("t3", first.run, attempt=0, next_attempt=1, unknown=True)
    check = once.enter("t3", attempt=1, lease_s=30)
    assert (check.verdict, check.sent_at_s) == ("check", sent_at)  # looks from the first send on
    # A worker lost mid-call: its lease lapses, then the redelivered copy checks
    once.enter("t4", attempt=0, lease_s=0.2)
    time.sleep(0.3)
    assert once.enter("t4", attempt=0, lease_s=30).verdict == "check"


def test_final_states_never_send_again(r, key_prefix):
    once = ledger(r, key_prefix)
    for task_id, finish in (("t5", once.failed), ("t6", once.unknown)):
        run = once.enter(task_id, attempt=0, lease_s=30).run
        assert finish(task_id, run, attempt=0)
        assert once.enter(task_id, attempt=0, lease_s=30).verdict == "stale"


def test_metrics_read_single_op_outcomes_and_reply_surprises_at_scrape_time(r, key_prefix, monkeypatch):
    import workers.metrics as metrics

    keys = Keys(key_prefix)
    monkeypatch.setattr(metrics, "get_redis", lambda: r)
    monkeypatch.setattr(metrics, "get_keys", lambda: keys)
    r.hincrby(keys.once_stats(), "pozvonim.calls.now|outcome_unknown", 2)
    metrics.count_surprise("pozvonim", "Call", "('id',) Field required; keys seen: id, status")
    once, surprises = metrics.TelequeueCollector()._single_op_metrics()
    assert [(s.name, s.labels, s.value) for s in once.samples] == [
        ("telequeue_single_ops_total", {"task": "pozvonim.calls.now", "outcome": "outcome_unknown"}, 2.0)]
    assert [(s.labels, s.value) for s in surprises.samples] == [({"vendor": "pozvonim", "what": "Call"}, 1.0)]
