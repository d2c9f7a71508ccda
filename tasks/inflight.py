"""A bounded number of sends of one chunk in flight at once.

Vendors answer in 50-300 ms, so rows sent one after another leave a worker waiting. A chunk
keeps up to `limit` sends going, each in a thread of its own: the vendor clients are
synchronous (`requests`), and a client is per thread (workers' runtime builds one per
thread, since a requests.Session is not thread-safe), so each sender thread has its own
session and keeps it from chunk to chunk. Measured against the sandbox at 100 ms (800 rows):
threads with a session each 75/273/366 calls/s at 8/32/64 in flight, aiohttp 75/267/471 with a
quarter of the CPU per call; threads keep one client interface for every vendor.

A send is handed to a sender thread through one queue and its outcome comes back through
another, the chunk's own: no Future, no waiter installed on every send in flight at each
wait, no semaphore. concurrent.futures' ThreadPoolExecutor and wait() cost about a quarter of
the chunk runner's own CPU per row (BENCHMARKS.md, issue 11 fourth session); the threads, and
how they are kept, are the same.

limit 1 sends in the calling thread, as chunks always did.
"""

from __future__ import annotations

import os
import threading
from queue import Empty, SimpleQueue
from typing import Any, Callable

_local = threading.local()


class Ended:
    """What one call in flight came to: `result()` returns its value or raises its exception."""

    __slots__ = ("_value", "_error")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value = value
        self._error = error

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class InFlight:
    """Up to `limit` calls running at once; the caller collects them as they end."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.running = 0
        self._ended: SimpleQueue[Ended] = SimpleQueue()
        self._senders = _senders(limit) if limit > 1 else None

    def submit(self, fn: Callable[..., Any], *args) -> None:
        if self.running >= self.limit:
            raise RuntimeError("no free place in flight")
        self.running += 1
        if self._senders is None:
            try:
                self._ended.put(Ended(fn(*args)))
            except Exception as exc:  # handed to whoever collects it, as from a sender thread
                self._ended.put(Ended(error=exc))
        else:
            self._senders.send(fn, args, self._ended)

    def ended(self, timeout_s: float | None = None) -> list[Ended]:
        """The calls that ended, waiting up to timeout_s (None: until one does) when none has."""
        if not self.running:
            return []
        try:
            done = [self._ended.get(timeout=timeout_s)]
        except Empty:
            return []
        while True:
            try:
                done.append(self._ended.get_nowait())
            except Empty:
                break
        self.running -= len(done)
        return done


class _Senders:
    """Up to `limit` sender threads taking calls from one queue, started only when no thread is
    free for a call (as ThreadPoolExecutor does: a new thread is a new vendor session and
    connection, made while a send waits) and kept while the process lives. They are daemon
    threads: a worker's warm shutdown waits for its chunks, which wait for their sends; a
    process that exits otherwise leaves its rows' claims to run out, as a killed worker does."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._work: SimpleQueue[tuple[Callable[..., Any], tuple, SimpleQueue[Ended]]] = SimpleQueue()
        self._threads = 0
        #: one entry per thread done with its call and not yet counted on by send(): list.append
        #: and list.pop are atomic, so this needs no lock
        self._free: list[None] = []

    def send(self, fn: Callable[..., Any], args: tuple, ended: SimpleQueue[Ended]) -> None:
        self._work.put((fn, args, ended))
        try:
            self._free.pop()  # a thread done with its call takes this one
        except IndexError:
            if self._threads < self._limit:
                self._threads += 1
                threading.Thread(target=self._serve, name=f"telequeue-send_{self._threads}", daemon=True).start()

    def _serve(self) -> None:
        work, free = self._work, self._free
        while True:
            fn, args, ended = work.get()
            result = _call(fn, args)
            # Free before the outcome is out: the next call its chunk sends on it finds this thread.
            free.append(None)
            ended.put(result)
            del fn, args, ended, result  # not kept alive while this thread waits


def _senders(limit: int) -> _Senders:
    """The sender threads of the calling thread (a worker's pool slot), kept for its next
    chunks so that their vendor sessions, and the connections in them, live on. A forked child
    (prefork) starts its own: the parent's threads are not in it."""
    pools = _local.__dict__.setdefault("senders", {})
    key = (os.getpid(), limit)
    if key not in pools:
        pools[key] = _Senders(limit)
    return pools[key]


def _call(fn: Callable[..., Any], args: tuple) -> Ended:
    try:
        return Ended(fn(*args))
    except BaseException as exc:  # handed to whoever collects it (as a pool's future did): the thread lives on
        return Ended(error=exc)
