"""A bounded number of sends of one chunk in flight at once.

Vendors answer in 50-300 ms, so rows sent one after another leave a worker waiting. A chunk
keeps up to `limit` sends going, each in a thread of its own: the vendor clients are
synchronous (`requests`), and a client is per thread (workers' runtime builds one per
thread, since a requests.Session is not thread-safe), so each sender thread has its own
session and keeps it from chunk to chunk. Measured against the sandbox at 100 ms (800 rows):
threads with a session each 75/273/366 calls/s at 8/32/64 in flight, aiohttp 75/267/471 with a
quarter of the CPU per call; threads keep one client interface for every vendor.

limit 1 sends in the calling thread, as chunks always did.

Ended calls reach the caller through a queue of its own that each future's done-callback feeds
(`Future.add_done_callback`), not through `concurrent.futures.wait()`, which at every call takes
the lock of every future in flight and installs a waiter on each (32 of them a call with 32 in
flight): what it costs now is per call that ends, not per call in flight.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")

_local = threading.local()


class InFlight:
    """Up to `limit` calls running at once; the caller collects them as they end."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._running: set[Future] = set()
        #: the futures that ended and are not collected yet, in the order they ended
        self._ended: queue.SimpleQueue[Future] = queue.SimpleQueue()

    @property
    def running(self) -> int:
        return len(self._running)

    def submit(self, fn: Callable[..., T], *args) -> Future:
        if self.running >= self.limit:
            raise RuntimeError("no free place in flight")
        future = _pool(self.limit).submit(fn, *args) if self.limit > 1 else _run_here(fn, *args)
        self._running.add(future)
        future.add_done_callback(self._ended.put)  # at once when it has ended already (_run_here)
        return future

    def ended(self, timeout_s: float | None = None) -> list[Future]:
        """The calls that ended, in the order they ended, waiting up to timeout_s (None: until
        one does) when none has."""
        if not self._running:
            return []
        try:
            first = self._ended.get(block=timeout_s is None or timeout_s > 0, timeout=timeout_s)
        except queue.Empty:
            return []
        done = [first]
        while True:
            try:
                done.append(self._ended.get_nowait())
            except queue.Empty:
                break
        self._running.difference_update(done)
        return done


def _pool(limit: int) -> ThreadPoolExecutor:
    """The sender threads of the calling thread (a worker's pool slot), kept for its next
    chunks so that their vendor sessions, and the connections in them, live on. A forked child
    (prefork) starts its own: the parent's threads are not in it."""
    pools = _local.__dict__.setdefault("pools", {})
    key = (os.getpid(), limit)
    if key not in pools:
        pools[key] = ThreadPoolExecutor(limit, thread_name_prefix="telequeue-send")
    return pools[key]


def _run_here(fn: Callable[..., T], *args) -> Future:
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except Exception as exc:  # handed to whoever collects the future, as a pool does
        future.set_exception(exc)
    return future
