"""tasks.inflight: calls in flight are collected as they end, in the order they ended."""

from __future__ import annotations

import threading
import time

from tasks.inflight import InFlight


def wait_until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.0005)


def test_calls_are_collected_in_the_order_they_ended():
    flights = InFlight(8)
    gates = [threading.Event() for _ in range(8)]
    futures = [flights.submit(gate.wait, 5) for gate in gates]
    order = [5, 2, 7, 0, 3, 6, 1, 4]
    for count, index in enumerate(order, 1):  # each ends before the next may: the order they end in is this one
        gates[index].set()
        futures[index].result(timeout=5)
        # result() returns before the future's done-callbacks have run: wait for this one's
        wait_until(lambda: flights._ended.qsize() == count)
    assert flights.ended(0) == [futures[index] for index in order]
    assert flights.running == 0 and flights.ended(0) == []


def test_ended_waits_for_the_first_call_to_end_and_takes_those_that_ended_with_it():
    flights = InFlight(4)
    gate = threading.Event()
    slow = flights.submit(gate.wait, 5)
    fast = flights.submit(lambda: "fast")
    assert flights.ended() == [fast]
    started = time.monotonic()
    assert flights.ended(0.05) == [] and time.monotonic() - started >= 0.04
    assert flights.ended(0) == [] and flights.running == 1
    gate.set()
    assert flights.ended(None) == [slow] and slow.result() is True
    assert flights.running == 0


def test_one_in_flight_runs_in_the_calling_thread():
    flights = InFlight(1)
    future = flights.submit(threading.current_thread)
    assert future.done() and future.result() is threading.current_thread()
    assert flights.ended(0) == [future] and flights.running == 0


def test_a_call_that_raised_is_collected_with_its_error():
    flights = InFlight(2)

    def fails():
        raise ValueError("boom")

    future = flights.submit(fails)
    (ended,) = flights.ended(5)
    assert ended is future and isinstance(future.exception(), ValueError)
