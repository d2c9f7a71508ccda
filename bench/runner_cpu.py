"""Worker CPU per row of the chunk runner alone: no Celery, the real ledger and limiter (Redis)
and RingostatClient against a loopback sandbox.

    python bench/runner_cpu.py 8        # rows in flight; 30 chunks of 100 rows (the first a warm-up)
    python bench/runner_cpu.py 1 20
    python bench/runner_cpu.py 8 16 1000   # a third number: the limiter's LATE_FLOOR_S (see below)

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

from _stack import AUTH_KEY, PROJECT_ID, Procs, delete_prefix, redis_client, unique_prefix  # noqa: E402
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


def main() -> None:
    in_flight = int(sys.argv[1])
    chunks = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    if len(sys.argv) > 3:
        limiter_module.LATE_FLOOR_S = float(sys.argv[3])
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
        runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=RetryPolicy(in_task_attempts=3), lease_s=30,
                             send=lambda row: client().add_campaign_row(456, row.fields["phone"], ""),
                             in_flight=in_flight)
        runner.run(rows[:100])  # warm-up: connections, scripts loaded
        cpu0, wall0 = time.process_time(), time.perf_counter()
        delivered = sum(runner.run(rows[100 * i:100 * (i + 1)]).delivered for i in range(1, chunks))
        n = 100 * (chunks - 1)
        calls = ", ".join(f"{name} {count / (n + 100):.2f}/row" for name, count in counts.items())
        print(f"rows in flight {in_flight}: {delivered}/{n} delivered, CPU "
              f"{(time.process_time() - cpu0) / n * 1e3:.3f} ms/row, {n / (time.perf_counter() - wall0):.0f} rows/s, "
              f"{calls}")
    finally:
        procs.stop_all()
        delete_prefix(r, prefix)


if __name__ == "__main__":
    main()
