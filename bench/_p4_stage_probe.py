"""Run by bench/p4_stages.py in a process of its own: `telequeue load ... --detach` as the
console script runs it, stamping milestones (wall time since P4_T0, the parent's clock just
before the spawn, and this process's CPU time) into the JSON-lines file P4_STAGES_OUT.
P4_EXIT_AT_FIRST_PUBLISH=1 ends the process right after its first chunk is published (for an
instruction count of just that stretch). It wraps internals, so it is white-box by nature:
when they move, this file moves with them."""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import time

T0 = float(os.environ["P4_T0"])
marks: list[tuple[str, float, float]] = [("interpreter ready", time.time(), time.process_time())]


def mark(name: str) -> None:
    marks.append((name, time.time(), time.process_time()))


def dump() -> None:
    with open(os.environ["P4_STAGES_OUT"], "a") as out:
        out.write(json.dumps([(n, round(1000 * (t - T0), 2), round(1000 * c, 2)) for n, t, c in marks]) + "\n")


from workers.cli import commands  # noqa: E402  (the import is the first stage measured)

mark("workers.cli.commands imported")

from workers.jobs import producer, store  # noqa: E402  (already imported by commands)


def wrap(owner, name: str, before: str | None = None, after: str | None = None, once: bool = True) -> None:
    original = getattr(owner, name)
    seen = []

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        first = not seen
        seen.append(1)
        if before and (first or not once):
            mark(before)
        result = original(*args, **kwargs)
        if after and (first or not once):
            mark(after)
            if after == "first chunk published" and os.environ.get("P4_EXIT_AT_FIRST_PUBLISH"):
                dump()
                os._exit(0)
        return result

    setattr(owner, name, wrapper)


wrap(producer, "start_job", before="the job kind's imports, settings, CSV header read")
wrap(store.JobStore, "create", after="job created")
wrap(store.JobStore, "count_rows", before="first batch read and checked")
wrap(commands, "_new_celery_app", after="Celery's client app made")
wrap(commands, "publish", after="first chunk published")
atexit.register(lambda: (mark("process done"), dump()))
sys.argv = ["telequeue", *sys.argv[1:]]
commands.main()
