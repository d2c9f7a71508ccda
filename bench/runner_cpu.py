"""Worker CPU per row of the chunk runner alone: no Celery, the real ledger and limiter (Redis)
and RingostatClient against a loopback sandbox.

    python bench/runner_cpu.py 8        # rows in flight; 30 chunks of 100 rows (the first a warm-up)
    python bench/runner_cpu.py 1 20
    python bench/runner_cpu.py 8 16 1000   # a third number: the limiter's LATE_FLOOR_S (see below)
    python bench/runner_cpu.py 8 40 --slots 8   # 8 chunks at once, as a `-P threads -c 8` worker runs them
    python bench/runner_cpu.py 32 16 1000 --stub-ms 2   # no HTTP: each send sleeps 1-3 ms (the runner's own cost)

Instructions per row, which the shared machine's load does not move (CPU time here varies by
±30 % between runs at a load of 3-4): two runs under callgrind, where every sender wakes late,
so late slots are never given up (LATE_FLOOR_S 1000), and the difference of their totals:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg16 python bench/runner_cpu.py 8 16 1000
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg6 python bench/runner_cpu.py 8 6 1000
    # (I refs of the first - I refs of the second) / 1,000 rows

Prints CPU (time.process_time of this process; the sandbox and Redis excluded) per row, rows/s,
and the ledger and limiter calls per row (claim_many, delivered_many, reserve).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from pydantic import SecretStr  # noqa: E402

from _stack import (AUTH_KEY, PROJECT_ID, Procs, delete_prefix, redis_client, thread_groups, tree_threads,  # noqa: E402
                    unique_prefix)
from tasks.chunk_runner import ChunkRunner, JobRow  # noqa: E402
from tasks.retry import RetryPolicy  # noqa: E402
from tests.support.scripted import job_with_rows  # noqa: E402
from vendors.http import new_session  # noqa: E402
from vendors.ringostat import RingostatClient, RingostatCredentials  # noqa: E402
from workers.limits import limiter as limiter_module  # noqa: E402
from workers.limits.limiter import RateLimiter  # noqa: E402


def counted(obj, name: str, counts: Counter) -> None:
    method = getattr(obj, name)

    def call(*args, **kwargs):
        counts[name] += 1
        return method(*args, **kwargs)
    setattr(obj, name, call)


def threads_now() -> dict:
    """This process's threads (tree_threads) under their Python names."""
    import os

    names = {t.native_id: t.name for t in threading.enumerate()}
    return {tid: (names.get(tid, name), *rest) for tid, (name, *rest) in tree_threads(os.getpid(), children=False).items()}


def main() -> None:
    args = sys.argv[1:]
    slots = 1
    if "--slots" in args:  # pool slots: threads each running chunks, as a `-P threads -c N` worker does
        at = args.index("--slots")
        slots = int(args[at + 1])
        del args[at:at + 2]
    stub_ms = 0.0
    if "--stub-ms" in args:  # a send is a sleep of stub_ms ± 50 % (by line), not an HTTP call: the runner alone
        at = args.index("--stub-ms")
        stub_ms = float(args[at + 1])
        del args[at:at + 2]
    in_flight = int(args[0])
    chunks = int(args[1]) if len(args) > 1 else 30
    if len(args) > 2:
        limiter_module.LATE_FLOOR_S = float(args[2])
    procs, r, prefix = Procs(), redis_client(), unique_prefix("runnercpu")
    try:
        box = procs.sandbox()
        local = threading.local()

        def client() -> RingostatClient:  # one per sender thread, as the worker's runtime does
            if not hasattr(local, "client"):
                credentials = RingostatCredentials(auth_key=SecretStr(AUTH_KEY), project_id=PROJECT_ID)
                local.client = RingostatClient(credentials, base_url=box.url + "/ringostat",
                                               session=new_session(base_url=box.url))
            return local.client

        rows = [JobRow(line, {"phone": f"38093{line:07d}", "fio": ""}, [line, f"38093{line:07d}", ""])
                for line in range(1, 100 * chunks + 1)]
        _, _, ledger, _ = job_with_rows(r, prefix, rows, limiter_name="unused")
        limiter = RateLimiter(r, key=prefix + "limit", stats_key=prefix + "stats", rate_per_s=100000, burst=100)
        counts: Counter = Counter()
        counted(ledger, "claim_many", counts)
        counted(ledger, "delivered_many", counts)
        counted(limiter, "reserve", counts)
        def send(row: JobRow) -> object:
            if stub_ms:
                return time.sleep(stub_ms * (0.5 + (row.line * 37 % 11) / 10) / 1000)
            return client().add_campaign_row(456, row.fields["phone"], "")

        runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                             send=send, in_flight=in_flight)
        runner.run(rows[:100])  # warm-up: connections, scripts loaded
        r.delete(prefix + "stats")
        cpu0, wall0, threads0 = time.process_time(), time.perf_counter(), threads_now()
        # (CPU is taken at the end, so a slot pool's shutdown is in it: a few threads' exits)
        if slots == 1:
            delivered = sum(runner.run(rows[100 * i:100 * (i + 1)]).delivered for i in range(1, chunks))
            threads1 = threads_now()
        else:
            from concurrent.futures import ThreadPoolExecutor
            pool = ThreadPoolExecutor(slots, thread_name_prefix="slot")
            delivered = sum(pool.map(lambda i: runner.run(rows[100 * i:100 * (i + 1)]).delivered, range(1, chunks)))
            threads1 = threads_now()  # before the slots end: their sender threads end with them
            pool.shutdown()
        n = 100 * (chunks - 1)
        groups = thread_groups(threads0, threads1)
        calls = ", ".join(f"{name} {count / (n + 100):.2f}/row" for name, count in counts.items())
        calls += f", missed {int(r.hget(prefix + 'stats', 'missed') or 0) / n:.2f}/row"
        print(f"rows in flight {in_flight} x {slots} slots: {delivered}/{n} delivered, CPU "
              f"{(time.process_time() - cpu0) / n * 1e3:.3f} ms/row, {n / (time.perf_counter() - wall0):.0f} rows/s, "
              f"{calls}")
        print(f"context switches {sum(g[1] + g[2] for g in groups.values()) / n:.1f}/row; per kind of thread: CPU "
              f"µs/row, switches/row voluntary + involuntary (threads): " + "; ".join(
                  f"{kind} {1e6 * cpu / n:.0f}, {vol / n:.2f} + {nonvol / n:.2f} ({count})"
                  for kind, (cpu, vol, nonvol, count) in sorted(groups.items(), key=lambda kv: -kv[1][0])))
    finally:
        procs.stop_all()
        delete_prefix(r, prefix)


if __name__ == "__main__":
    main()
