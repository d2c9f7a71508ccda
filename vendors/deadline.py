"""A hard deadline on the whole of one HTTP call, from connecting to the last byte of the answer.

`within(seconds)` sets the deadline of the calls made inside it (the innermost, earliest
deadline wins), e.g. the chunk runner bounds a whole row's send, however many calls it makes,
by the row's lease. vendors/deadline_adapter.py makes every call keep it: `DeadlineAdapter`, and
`vendors.direct.DirectAdapter` (a subclass), the one `vendors.http.new_session` mounts. This module
imports no requests, so code that only sets deadlines (tasks/, and through them a `telequeue load`)
does not load the HTTP stack.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: monotonic time by which every call in this context must be over; None: no deadline
_deadline: ContextVar[float | None] = ContextVar("telequeue_http_deadline", default=None)


class DeadlinePassed(TimeoutError):
    """The call's deadline came before its answer was complete."""


class StartPassed(Exception):
    """A request was about to go out after the time it had to start by (`start_by`): nothing
    of it was sent. Not an OSError, so urllib3 and requests hand it on as it is."""


#: by when (time.monotonic()) the next request made in this context must start to go out:
#: a one-element list, emptied by that request (so later ones of the same send are free)
_start_by: ContextVar[list[float] | None] = ContextVar("telequeue_http_start_by", default=None)


def current() -> float | None:
    """The deadline (time.monotonic()) of calls made now, None when there is none."""
    return _deadline.get()


def left_s() -> float | None:
    """Seconds left until the current deadline (<= 0 once passed), None when there is none."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Calls made inside end within `seconds` from now (None: no new limit); an outer,
    earlier deadline still holds."""
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def start_by(at: float | None) -> Iterator[None]:
    """The first request made inside goes out by `at` (time.monotonic()) or not at all: past
    it, StartPassed comes before any byte of it is sent (the check is made as the request
    reaches the connection pool). A limiter slot's sender uses it: the work of making a request
    in a busy process must not push the send past the slot."""
    if at is None:
        yield
        return
    token = _start_by.set([at])
    try:
        yield
    finally:
        _start_by.reset(token)


def check_start() -> None:
    """Called as a request reaches the connection pool (vendors/deadline_adapter.py, and
    vendors/direct.py before it takes or makes a connection)."""
    pending = _start_by.get()
    if pending and time.monotonic() > pending.pop():
        raise StartPassed("the request's time to start passed before it went out; nothing was sent")


__all__ = ["DeadlinePassed", "StartPassed", "check_start", "current", "left_s", "start_by", "within"]
