"""The worker process's interpreter, set for sender threads that must reach their slots on time.

A chunk's rows in flight each wait in a sender thread for the limiter slot booked for them,
and one that gets to its slot late gives it up (workers.limits.limiter, `missed`): a slot the
vendor then sees unused. In a threads worker a sender woken for its slot waits for the GIL,
which the running thread keeps up to the switch interval (5 ms by default) and the other
waiting threads may take first; and the collector's full passes over the objects Celery and
the libraries made at start-up stall every thread. Measured with one `-P threads -c 8` worker
holding 500/s at 150 ms (BENCHMARKS.md, issue 11 third session), a 1 ms switch interval and
the start-up objects frozen out of the collector's passes took the late slots and the 429s that
came with them down, at no measurable CPU per row.
"""

from __future__ import annotations

import gc
import sys

#: seconds a thread may hold the GIL while another waits for it (CPython's default: 0.005)
SWITCH_INTERVAL_S = 0.001


def tune_for_senders() -> None:
    """Called once, in the worker's main process before its pool starts: a prefork child
    inherits both (the frozen objects then also stay shared with the parent, not copied)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
