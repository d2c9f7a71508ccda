"""The worker process's garbage collector, set so that full collections come seldom.

A full collection walks every object the worker holds (with rows in flight: a thread, a
vendor session and its connections per sender) and stops every thread meanwhile: 60-114 ms
measured in one `-P threads -c 8` worker with 24 rows in flight. Each one makes the senders
waiting for their limiter slots miss them (a slot reached more than 20 ms late is given up,
workers/limits/limiter.py), so the account's limit went unused for about 0.2 s each time.
Young collections, CPython's default every 700 allocations, come with each row's HTTP call
and Redis answers; with the thresholds below, collections of every generation come about 30
times less often (BENCHMARKS.md, issue 11 third session: 96.9-97.5 % of a 500/s limit at 150
ms and two full collections a run with the defaults, 98.8-99.2 % and one with these). Cyclic
garbage waits a little longer to be freed; the worker's memory did not move measurably.
"""

from __future__ import annotations

import gc

#: (young, middle, old): allocations before a young collection; young collections before a
#: middle one; middle ones before a full one (CPython's defaults: 700, 10, 10)
THRESHOLDS = (20_000, 20, 20)


def tune() -> None:
    """Called once in the worker's main process before its pool starts (prefork children inherit it)."""
    gc.set_threshold(*THRESHOLDS)
