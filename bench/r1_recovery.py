"""R1: seconds from `kill -9` of a worker to its rows sending again, with the default settings, on Redis.

    python bench/r1_recovery.py                  # 10 kills
    python bench/r1_recovery.py --kills 3        # smoke run

Three workers (`-P threads -c 2`) with every recovery setting at its default (heartbeat 2 s,
dead after 15 s, row lease 30 s, visibility timeout 300 s). Each round loads a job of one
100-row chunk at a 20/s limit, waits until the worker holding it (its liveness record says
so) has sent 20 rows, kills that worker's process group with SIGKILL and starts a fresh one
in its place (as a process manager would). Measured from the sandbox's receive times:

recovery   from the kill to the first row, unsent one second after the kill, that the vendor
           received: the dead worker's rows sending again;
finish     from the kill to the last of those rows received (includes the 30 s row lease a row
           in flight at the kill waits out, when one was);
plus the duplicates the vendor saw and the job's `unknown_outcome` count (they must match).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _recovery import defaults_env, holds, job_field, load_detached, record_of  # noqa: E402
from _stack import (  # noqa: E402
    LOGS, PROJECT_ID, ROOT, Procs, delete_prefix, ensure_contacts, exit_on_sigterm, machine, poll, redis_client,
    unique_prefix, write_result,
)
from workers.dev import devstack  # noqa: E402

RESULT = "r1_recovery"


class Workers:
    def __init__(self, procs: Procs, env: dict, prefix: str, concurrency: int) -> None:
        self.procs, self.env, self.prefix, self.concurrency = procs, env, prefix, concurrency
        self.live: list = []
        self.started = 0

    def start(self) -> object:
        name = f"r1w{self.started}"
        self.started += 1
        proc = self.procs.worker("workers.app", self.env, queues="ringostat,bulk", pool="threads",
                                 concurrency=self.concurrency, name=name, logfile=LOGS / f"{name}.log",
                                 loglevel="INFO")
        self.live.append(proc)
        return proc

    def wait_ready(self, timeout_s: float = 90) -> None:
        if not poll(lambda: all(record_of(self.prefix, p.pid) for p in self.live), timeout_s, 0.2):
            raise TimeoutError("workers did not beat")

    def kill(self, proc) -> float:
        killed_at = time.time()
        devstack.stop(proc, sig=signal.SIGKILL)
        self.procs.stop(proc)
        self.live.remove(proc)
        return killed_at


def one_round(sandbox, workers: Workers, csv_path: Path, campaign: int, args) -> dict:
    job_id = load_detached(workers.env, csv_path, campaign)
    if not poll(lambda: any(holds(workers.prefix, p.pid, job_id) for p in workers.live), 30, 0.05):
        raise TimeoutError("no worker took the chunk")
    [holder] = [p for p in workers.live if holds(workers.prefix, p.pid, job_id)]
    poll(lambda: int(job_field(workers.prefix, job_id, "delivered") or 0) >= args.kill_after, 30, 0.02)
    killed_at = workers.kill(holder)
    delivered_at_kill = int(job_field(workers.prefix, job_id, "delivered") or 0)
    workers.start()  # the replacement a process manager starts
    if not poll(lambda: job_field(workers.prefix, job_id, "state") == "done", args.round_timeout_s, 0.2):
        raise TimeoutError(f"job {job_id} not done {args.round_timeout_s} s after the kill")
    rows = sandbox.control.rows(project=PROJECT_ID, campaign=campaign)
    phones = {row["phone_number"] for row in rows}
    before = {row["phone_number"] for row in rows if row["t"] <= killed_at + 1}
    stranded = [row["t"] for row in rows if row["phone_number"] in phones - before]
    workers.wait_ready()
    return {
        "job_id": job_id,
        "delivered_at_kill": delivered_at_kill,
        "stranded_rows": len(phones - before),
        "recovery_s": round(min(stranded) - killed_at, 2),
        "finish_s": round(max(stranded) - killed_at, 2),
        "received": len(rows),
        "distinct": len(phones),
        "duplicates": len(rows) - len(phones),
        "unknown_outcome": int(job_field(workers.prefix, job_id, "unknown_outcome") or 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rows", type=int, default=100, help="rows per job: one chunk at the default chunk size")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--kill-after", type=int, default=20, help="rows delivered before the kill")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--round-timeout-s", type=float, default=600.0)
    args = parser.parse_args()
    exit_on_sigterm()
    LOGS.mkdir(parents=True, exist_ok=True)
    csv_path = ensure_contacts(args.rows, seed=11)
    procs = Procs()
    prefix = unique_prefix("r1")
    sandbox = procs.sandbox()
    workers = Workers(procs, defaults_env(prefix, sandbox.url, rate_per_s=args.rate), prefix, args.concurrency)
    rounds: list[dict] = []
    print(f"R1 recovery after kill -9, defaults, Redis broker: {args.workers} workers x -P threads -c "
          f"{args.concurrency}, {args.rows}-row job at {args.rate:g}/s, {args.kills} kills")
    try:
        for _ in range(args.workers):
            workers.start()
        workers.wait_ready()
        for i in range(args.kills):
            result = one_round(sandbox, workers, csv_path, 5000 + i, args)
            rounds.append(result)
            print(f"  kill {i + 1:2}: rows sending again after {result['recovery_s']:5.1f} s, all of them by "
                  f"{result['finish_s']:5.1f} s; {result['stranded_rows']} stranded, {args.rows - result['distinct']} "
                  f"lost, {result['duplicates']} duplicates / {result['unknown_outcome']} unknown outcomes")
    finally:
        procs.stop_all()
        delete_prefix(redis_client(), prefix)
    recovery = [r["recovery_s"] for r in rounds]
    finish = [r["finish_s"] for r in rounds]
    summary = {
        "kills": len(rounds),
        "recovery_p50_s": round(statistics.median(recovery), 2) if rounds else None,
        "recovery_max_s": max(recovery) if rounds else None,
        "finish_p50_s": round(statistics.median(finish), 2) if rounds else None,
        "finish_max_s": max(finish) if rounds else None,
        "duplicates": sum(r["duplicates"] for r in rounds),
        "unknown_outcome": sum(r["unknown_outcome"] for r in rounds),
        "lost": sum(args.rows - r["distinct"] for r in rounds),
    }
    print(f"  recovery p50 {summary['recovery_p50_s']} s, max {summary['recovery_max_s']} s "
          f"(target <= 30 s; kombu's visibility timeout before: 3,600 s; Dramatiq's heartbeat timeout: 60 s)")
    path = write_result(RESULT if args.kills == 10 else f"{RESULT}-{args.kills}", {
        "summary": summary, "rounds": rounds,
        "params": vars(args), "machine": machine(), "command": "python bench/r1_recovery.py",
    })
    print(f"  -> {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
