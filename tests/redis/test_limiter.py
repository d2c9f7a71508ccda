"""The global limiter: one schedule shared by several processes, never over the limit."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import redis

from tests.support.limits import max_in_any_window
from workers.limits.limiter import RateLimiter


def _limiter(url: str, prefix: str, rate: float, burst: int = 1, max_wait_s: float = 5.0) -> RateLimiter:
    return RateLimiter(redis.Redis.from_url(url), key=f"{prefix}limit", stats_key=f"{prefix}stats",
                       rate_per_s=rate, burst=burst, max_wait_s=max_wait_s)


def _sender(url: str, prefix: str, rate: float, burst: int, duration_s: float, out: mp.Queue) -> None:
    limiter = _limiter(url, prefix, rate, burst)
    sent, deadline = [], time.time() + duration_s
    while time.time() < deadline:
        limiter.acquire()
        sent.append(time.time())
    out.put(sent)


def _send_times(sender, processes: int, redis_url: str, key_prefix: str, rate: int, burst: int,
                duration_s: float) -> tuple[list[float], list[mp.Process]]:
    """Every send time of `processes` forked runs of `sender` on one account, and the processes."""
    out = mp.get_context("fork").Queue()
    procs = [mp.get_context("fork").Process(target=sender, args=(redis_url, key_prefix, rate, burst, duration_s, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    times = [t for _ in procs for t in out.get(timeout=30)]
    for p in procs:
        p.join(10)
    return times, procs


def test_several_processes_never_exceed_the_limit(redis_url, key_prefix):
    # Given 4 processes hammering one account limited to 40/s with a burst of 2
    rate, burst, duration_s = 40, 2, 3.0
    times, procs = _send_times(_sender, 4, redis_url, key_prefix, rate, burst, duration_s)
    # Then no 1 s window holds more than rate + burst sends, and the rate was nearly used
    assert max_in_any_window(times) <= rate + burst
    span = max(times) - min(times)
    assert len(times) / span >= 0.9 * rate
    # And every process got a share (the schedule is shared, not first-come-takes-all)
    assert all(p.exitcode == 0 for p in procs)


def test_penalize_pushes_every_worker_back(redis_url, key_prefix):
    # Given two limiters (two workers) on the same account
    a, b = _limiter(redis_url, key_prefix, 100), _limiter(redis_url, key_prefix, 100)
    a.acquire()
    # When one of them meets a 429 asking for 1 s
    a.penalize(1.0)
    started = time.monotonic()
    b.acquire()
    # Then the other waits about that long before its next send
    assert 0.9 <= time.monotonic() - started < 1.5


def test_refuses_to_book_beyond_max_wait(redis_url, key_prefix):
    # Given an account at 1/s whose next slot is taken
    limiter = _limiter(redis_url, key_prefix, rate=1, max_wait_s=0.5)
    assert limiter.reserve().granted
    # When the next slot is further away than max_wait
    reservation = limiter.reserve()
    # Then nothing is booked, and the caller learns how far away the slot is
    assert not reservation.granted
    assert 0.5 < reservation.wait_s <= 1.0
    # And acquire() gives up when asked to stop instead of booking far ahead
    assert limiter.acquire(should_stop=lambda: True) is False


def test_penalty_holds_even_with_burst_tolerance(redis_url, key_prefix):
    # Given an account with a burst of 5: sends may run ahead of the schedule
    limiter = _limiter(redis_url, key_prefix, rate=10, burst=5)
    limiter.acquire()
    # When the vendor asks for 1 s of quiet
    limiter.penalize(1.0)
    started = time.monotonic()
    limiter.acquire()
    # Then the burst allowance does not eat into it
    assert time.monotonic() - started >= 0.95


def test_absurd_retry_after_is_capped(redis_url, key_prefix):
    limiter = _limiter(redis_url, key_prefix, rate=10, max_wait_s=0.1)
    limiter.penalize(float("inf"))
    assert 3000 < limiter.reserve().wait_s <= 3601


def test_a_slot_booked_before_a_429_is_not_used_inside_its_quiet_time(redis_url, key_prefix):
    # Given a worker already sleeping towards a slot booked 0.5 s ahead
    limiter = _limiter(redis_url, key_prefix, rate=2)
    limiter.acquire()
    sent_at = []
    sleeper = threading.Thread(target=lambda: (limiter.acquire(), sent_at.append(time.monotonic())))
    started = time.monotonic()
    sleeper.start()
    time.sleep(0.1)
    # When another worker meets a 429 asking for 1.5 s
    _limiter(redis_url, key_prefix, rate=2).penalize(1.5)
    sleeper.join(10)
    # Then the sleeper does not send before the quiet time is over
    assert sent_at[0] - started >= 1.5


def test_slots_reserved_together_are_one_script_call_and_keep_the_schedule(redis_url, key_prefix):
    # Given an account at 10/s, burst 1, and one caller that needs 3 requests for one unit of work
    limiter = _limiter(redis_url, key_prefix, rate=10)
    other = _limiter(redis_url, key_prefix, rate=10)
    started = time.monotonic()
    assert limiter.acquire(slots=3)
    # Then the next caller's slot comes after all three (the schedule moved by 3 intervals at once)
    assert other.reserve().wait_s >= 0.25
    # And the reserved slots are taken one interval apart, without asking for new ones
    assert limiter.take_reserved() and limiter.take_reserved()
    assert time.monotonic() - started >= 0.19  # two intervals of 100 ms after the first slot
    assert limiter.take_reserved() is False  # none left: the caller must not send
    stats = redis.Redis.from_url(redis_url).hgetall(f"{key_prefix}stats")
    assert int(stats[b"granted"]) == 4


def test_a_slot_its_sender_got_to_too_late_is_given_up_for_a_new_one(redis_url, key_prefix, monkeypatch):
    # Given an account at 10/s whose next slot is 0.3 s away, and a process that stalls:
    # every sleep lasts 0.3 s longer than asked
    limiter = _limiter(redis_url, key_prefix, rate=10)
    assert limiter.reserve(3).granted
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: real_sleep(s + 0.3))
    # When a sender acquires its slot
    assert limiter.acquire()
    # Then it woke 0.3 s after its slot, gave that slot up and took a new one instead of sending
    # bunched with the slots after it: 3 + 2 slots granted, not 3 + 1
    stats = redis.Redis.from_url(redis_url).hgetall(f"{key_prefix}stats")
    assert int(stats[b"granted"]) == 5 and int(stats[b"missed"]) == 1
    # And a slot kept for take_reserved() that its sender reached too late is not used either
    assert limiter.acquire(slots=2)
    assert limiter.take_reserved() is False


def test_a_late_slot_is_counted_by_the_next_reserve_granted_or_not(redis_url, key_prefix):
    # Given an account at 10/s whose schedule is full for longer than max_wait (0.2 s)
    limiter = _limiter(redis_url, key_prefix, rate=10, max_wait_s=0.2)
    assert limiter.reserve(4).granted
    stats_key = f"{key_prefix}stats"
    r = redis.Redis.from_url(redis_url)
    # When a sender that gave up a slot late asks for a new one, refused then granted
    assert not limiter.reserve(missed=1).granted
    # Then each reserve counted what it carried, the refused one too, in the same call
    assert int(r.hget(stats_key, "missed")) == 1
    time.sleep(0.25)
    assert limiter.reserve(missed=2).granted
    assert int(r.hget(stats_key, "missed")) == 3 and int(r.hget(stats_key, "granted")) == 5
    # And late() alone counts nothing
    assert limiter.late(time.monotonic() - 1) and not limiter.late(time.monotonic())
    assert int(r.hget(stats_key, "missed")) == 3


def _concurrent_sender(url: str, prefix: str, rate: float, burst: int, duration_s: float, out: mp.Queue) -> None:
    """One worker process sending 8 rows at once: one reserve() call, then a thread per slot
    that sleeps until its own slot's due time."""
    limiter = _limiter(url, prefix, rate, burst)
    sent, deadline = [], time.time() + duration_s

    def send_at(due: float) -> None:
        time.sleep(max(0.0, due - time.monotonic()))
        sent.append(time.time())

    while time.time() < deadline:
        reservation = limiter.reserve(8)
        if not reservation.granted:
            time.sleep(reservation.wait_s * 0.9)
            continue
        threads = [threading.Thread(target=send_at, args=(due,)) for due in reservation.due]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    out.put(sent)


def test_slots_reserved_for_concurrent_sends_keep_the_limit_across_processes(redis_url, key_prefix):
    # Given 3 processes, each reserving 8 slots per call for 8 concurrent sends, on one account at 40/s, burst 2
    rate, burst, duration_s = 40, 2, 3.0
    times, procs = _send_times(_concurrent_sender, 3, redis_url, key_prefix, rate, burst, duration_s)
    # Then no 1 s window holds more than rate + burst sends, and the rate was nearly used
    assert max_in_any_window(times) <= rate + burst
    assert len(times) / (max(times) - min(times)) >= 0.9 * rate
    assert all(p.exitcode == 0 for p in procs)


def test_each_reserved_slot_has_its_own_due_time(redis_url, key_prefix):
    # Given an idle account at 10/s with a burst of 3
    limiter = _limiter(redis_url, key_prefix, rate=10, burst=3)
    before = time.monotonic()
    # When one call reserves 5 slots
    reservation = limiter.reserve(5)
    # Then the burst goes at once and the rest follow one interval apart, as GCRA allows
    offsets = [due - before for due in reservation.due]
    assert reservation.granted and len(offsets) == 5
    assert all(offset < 0.05 for offset in offsets[:3])
    assert [round(b - a, 3) for a, b in zip(offsets[2:], offsets[3:])] == [0.1, 0.1]
    # And the next caller is booked after all five
    assert 0.25 <= limiter.reserve().wait_s <= 0.3


def test_slots_kept_for_take_reserved_are_per_thread(redis_url, key_prefix):
    # Given two rows' second slots kept by two sender threads of one limiter
    limiter = _limiter(redis_url, key_prefix, rate=10)
    due = limiter.reserve(4).due
    taken: dict[str, list[bool]] = {}

    def sender(name: str, second: float) -> None:
        limiter.keep_reserved([second])
        taken[name] = [limiter.take_reserved(), limiter.take_reserved()]

    threads = [threading.Thread(target=sender, args=(name, d)) for name, d in (("a", due[1]), ("b", due[3]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each takes its own slot once, neither takes the other's
    assert taken == {"a": [True, False], "b": [True, False]}
    assert time.monotonic() >= due[3]


def test_senders_of_one_limiter_share_a_quiet_answer_briefly_and_see_their_own_429_at_once(redis_url, key_prefix):
    # Given one limiter whose senders, waking a few ms apart, each ask whether a 429 wants quiet
    limiter = _limiter(redis_url, key_prefix, rate=500)
    calls = []
    script = limiter._quiet_left
    limiter._quiet_left = lambda **kw: (calls.append(1), script(**kw))[1]
    # When 20 of them ask within the recheck window
    answers = [limiter.quiet() for _ in range(20)]
    # Then Redis was asked once, and nobody was told to stay quiet
    assert answers == [False] * 20 and len(calls) == 1
    # And after the window Redis is asked again
    time.sleep(0.015)
    assert limiter.quiet() is False and len(calls) == 2
    # And a 429 met through this limiter is quiet at once, without asking Redis
    limiter.penalize(0.5)
    assert limiter.quiet() is True and len(calls) == 2
    # And the other limiters of the account (other chunks, other workers) see it in Redis
    fresh = _limiter(redis_url, key_prefix, rate=500)
    assert fresh.quiet() is True
