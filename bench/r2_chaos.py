"""R2: chaos. A worker killed with -9 and restarted every 5 s while `telequeue load` runs, defaults, Redis.

    python bench/r2_chaos.py                          # 3,000 rows at 100/s, 3 runs
    python bench/r2_chaos.py --rows 6000 --runs 1

Two steady workers and one that is killed (SIGKILL to its process group) and started again
every `--kill-every-s`, all `-P threads -c 4`, every recovery setting at its default. The
load is the CLI itself (`telequeue load ringostat-campaign FILE`, following the job to its
end), timed from its start to its exit. Target (issue 8): exit 0 within rows/rate + 60 s,
0 rows lost, duplicates <= kills x threads and all of them counted as unknown outcomes.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _recovery import defaults_env, job_field, record_of  # noqa: E402
from _stack import (  # noqa: E402
    LOGS, PROJECT_ID, PY, ROOT, Procs, delete_prefix, ensure_contacts, exit_on_sigterm, machine, poll, redis_client,
    unique_prefix, write_result,
)
from workers.dev import devstack  # noqa: E402

RESULT = "r2_chaos"


def one_run(procs: Procs, sandbox, csv_path: Path, valid: int, campaign: int, args) -> dict:
    prefix = unique_prefix("r2")
    env = defaults_env(prefix, sandbox.url, rate_per_s=args.rate)
    threads = args.concurrency

    def worker(name: str):
        return procs.worker("workers.app", env, queues="ringostat,bulk", pool="threads", concurrency=threads,
                            name=name, logfile=LOGS / f"r2-{name}.log", loglevel="INFO")

    try:
        steady = [worker(f"steady{i}") for i in range(2)]
        churned = worker("churned0")
        if not poll(lambda: all(record_of(prefix, p.pid) for p in [*steady, churned]), 90, 0.2):
            raise TimeoutError("workers did not beat")
        deadline_s = valid / args.rate + 60
        out_path = LOGS / "r2-load.out"
        with open(out_path, "w") as out:
            started = time.monotonic()
            load = subprocess.Popen([PY, "-m", "workers", "load", "ringostat-campaign", "--campaign", str(campaign),
                                     str(csv_path)], env={**os.environ, **env}, cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)
            kills = 0
            while load.poll() is None and time.monotonic() - started < args.give_up_s:
                time.sleep(args.kill_every_s)
                if load.poll() is None:
                    devstack.stop(churned, sig=signal.SIGKILL)
                    procs.stop(churned)
                    kills += 1
                    churned = worker(f"churned{kills}")
            try:
                load.wait(max(1.0, args.give_up_s - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                load.kill()
                load.wait()
            seconds = time.monotonic() - started
        job_id = re.search(r"job (\S+)", out_path.read_text()).group(1)
        rows = sandbox.control.rows(project=PROJECT_ID, campaign=campaign)
        distinct = {row["phone_number"] for row in rows}
        valid = int(job_field(prefix, job_id, "valid") or 0)  # the file's valid rows, as the producer counted them
        return {
            "rows": valid, "rate_per_s": args.rate, "kills": kills, "load_exit": load.returncode,
            "seconds": round(seconds, 1), "rows_over_rate_s": round(valid / args.rate, 1),
            "deadline_s": round(deadline_s, 1), "within_deadline": seconds <= deadline_s,
            "delivered": int(job_field(prefix, job_id, "delivered") or 0), "lost": valid - len(distinct),
            "duplicates": len(rows) - len(distinct),
            "unknown_outcome": int(job_field(prefix, job_id, "unknown_outcome") or 0),
            "duplicate_bound": kills * threads,
        }
    finally:
        procs.stop_workers()
        delete_prefix(redis_client(), prefix)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kill-every-s", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--give-up-s", type=float, default=600.0)
    args = parser.parse_args()
    exit_on_sigterm()
    LOGS.mkdir(parents=True, exist_ok=True)
    csv_path = ensure_contacts(args.rows, seed=12)
    procs = Procs()
    sandbox = procs.sandbox()
    results = []
    print(f"R2 chaos, defaults, Redis broker: {args.rows} rows at {args.rate:g}/s, 2 steady workers + 1 killed "
          f"with -9 every {args.kill_every_s:g} s, all -P threads -c {args.concurrency}; {args.runs} runs")
    try:
        for i in range(args.runs):
            r = one_run(procs, sandbox, csv_path, args.rows, 6000 + i, args)
            results.append(r)
            print(f"  run {i + 1}: load exit {r['load_exit']} after {r['seconds']:.0f} s (rows/rate {r['rows_over_rate_s']:.0f} s, "
                  f"limit {r['deadline_s']:.0f} s) through {r['kills']} kills; {r['lost']} lost, {r['duplicates']} "
                  f"duplicates (bound {r['duplicate_bound']}), {r['unknown_outcome']} unknown outcomes counted")
    finally:
        procs.stop_all()
    name = RESULT if (args.rows, args.rate, args.runs) == (3000, 100, 3) else f"{RESULT}-{args.rows}-{args.runs}"
    path = write_result(name, {"runs": results, "params": vars(args), "machine": machine(),
                               "command": "python bench/r2_chaos.py"})
    print(f"  -> {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
