"""What Flower's --persistent state costs at a given --max_tasks: the save blocks Flower's event loop.

Flower (2.2) pickles its whole events State into a shelve file every --state_save_interval ms,
on its Tornado IOLoop: while it pickles, the UI, the API and /metrics wait. This fills a real
flower.events.EventsState with N finished chunk tasks (sent, received, started, succeeded events
as a worker sends them; kwargs repr at Celery's 1,024-character cap, as a chunk's is) and times
Flower's own Events.save_state(), and the memory the state holds (RSS growth; one process per N).

    .venv/bin/python bench/flower_state.py                  # N = 10,000 25,000 50,000 100,000
    .venv/bin/python bench/flower_state.py --tasks 20000

Writes bench/out/flower_state.json and prints a markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from flower.events import Events, EventsState

OUT = Path(__file__).resolve().parent / "out"


def kwargs_repr(chunk: int) -> str:
    """A chunk's kwargs as Celery's task events carry them: a repr cut at 1,024 characters."""
    first = 2 + chunk * 100
    return repr({"job_id": "9f1c2d3e4b5a", "account": "default", "campaign_id": 456,
                 "rows": [[line, f"38093{line:07d}", "Іваненко Іван Іванович"]
                          for line in range(first, first + 40)]})[:1024]


def fill(state: EventsState, n: int) -> None:
    now = time.time()
    for i in range(n):
        task_id = str(uuid.uuid4())
        t = now - n + i
        kwargs = kwargs_repr(i)
        common = {"uuid": task_id, "hostname": "ringostat@worker-7d9f-abcde", "clock": i * 4, "pid": 7}
        state.event({**common, "type": "task-sent", "timestamp": t, "local_received": t,
                     "name": "ringostat.campaign_rows.add_chunk", "args": "()", "kwargs": kwargs,
                     "retries": 0, "eta": None, "expires": None, "queue": "ringostat", "exchange": "",
                     "routing_key": "ringostat", "root_id": task_id, "parent_id": None})
        state.event({**common, "type": "task-received", "timestamp": t + 0.01, "local_received": t + 0.01,
                     "name": "ringostat.campaign_rows.add_chunk", "args": "()", "kwargs": kwargs,
                     "retries": 0, "eta": None, "expires": None, "root_id": task_id, "parent_id": None})
        state.event({**common, "type": "task-started", "timestamp": t + 0.02, "local_received": t + 0.02})
        state.event({**common, "type": "task-succeeded", "timestamp": t + 9.5, "local_received": t + 9.5,
                     "result": "{'delivered': 100, 'failed': 0, 'deferred': 0}", "runtime": 9.48})


def measure(n: int) -> dict:
    rss_before = psutil.Process().memory_info().rss
    state = EventsState(max_tasks_in_memory=n)
    fill(state, n)
    held_mb = (psutil.Process().memory_info().rss - rss_before) / 2**20
    with tempfile.TemporaryDirectory() as tmp:
        events = Events.__new__(Events)  # Flower's own save_state, without its threads and timers
        events.db, events.state, events.state_save_timer, events.state_save_interval = \
            os.path.join(tmp, "flower.db"), state, None, 0
        times = []
        for _ in range(3):
            started = time.perf_counter()
            events.save_state()
            times.append(time.perf_counter() - started)
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
    return {"tasks": n, "tasks_kept": len(state.tasks), "save_s": min(times), "save_s_max": max(times),
            "db_mb": size_mb, "state_mb": held_mb}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, nargs="*", default=[10_000, 25_000, 50_000, 100_000])
    # one process per size: the RSS growth of each is its own
    import subprocess
    import sys

    args = parser.parse_args()
    if len(args.tasks) == 1:
        print(json.dumps(measure(args.tasks[0])))
        return
    results = [json.loads(subprocess.run([sys.executable, __file__, "--tasks", str(n)], capture_output=True,
                                         text=True, check=True).stdout) for n in args.tasks]
    OUT.mkdir(exist_ok=True)
    machine = {"nproc": os.cpu_count(), "python": platform.python_version(),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (OUT / "flower_state.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(f"{machine['nproc']} cores, Python {machine['python']}, {machine['date']}\n")
    print("| --max_tasks | one save (event loop blocked) | db file | state in memory |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['tasks']:,} | {r['save_s'] * 1000:,.0f} ms (worst of 3: {r['save_s_max'] * 1000:,.0f} ms) "
              f"| {r['db_mb']:.0f} MiB | {r['state_mb']:.0f} MiB (RSS growth) |")


if __name__ == "__main__":
    main()
