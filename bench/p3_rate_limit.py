"""P3: the global limit holds across worker processes; Celery's own rate_limit does not get there.

    python bench/p3_rate_limit.py                    # R=50/s, 4 worker processes, 60 s per phase
    python bench/p3_rate_limit.py --seconds 10       # smoke run
    python bench/p3_rate_limit.py --skip-naive --rate 100 --sandbox-burst 5

The sandbox throttles project 123 at R/s with a small burst (`--rate 123=R/B`) and answers
429 beyond it. Two phases, one after the other, each with its own worker processes:

telequeue  `--processes` workers (`-P threads -c 4` each by default) with
           TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__RATE_PER_S=R and BURST=1; a job of
           R x seconds x 1.15 + 100 rows (enough to last past the window) loaded through
           the CLI; after the window the job is cancelled (`telequeue job cancel`).
naive      the same worker shape on bench/naive_app.py, one `naive.post_row_limited.delay()`
           per row: Celery's built-in `rate_limit="R/s"` (per worker, per task type).

Window: S seconds from the first row the sandbox accepted. Reported: achieved rate in the
window (target >= 98 % of R), the most accepted rows in any sliding 1 s window (target
<= R + sandbox burst), and the sandbox's 429 count over the phase (target 0).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (  # noqa: E402
    CAMPAIGN_ID, LOGS, PROJECT_ID, PY, ROOT, Procs, delete_prefix, ensure_contacts, exit_on_sigterm, machine,
    max_in_window, naive_env, poll, redis_client, telequeue_env, unique_prefix, wait_workers, write_result,
)

RESULT = "p3_rate_limit"


def start_workers(procs, app, env, queues, args, tag, broker_prefix) -> list:
    names = [f"{tag}{i}" for i in range(args.processes)]
    workers = [procs.worker(app, env, queues=queues, pool=args.pool, concurrency=args.concurrency, name=name,
                            logfile=LOGS / f"p3-{name}.log") for name in names]
    wait_workers(broker_prefix, names, timeout_s=60, procs=workers, logs=[LOGS / f"p3-{name}.log" for name in names])
    return workers


def first_accepted_t(sandbox, timeout_s: float) -> float:
    if not poll(lambda: sandbox.control.stats()["accepted"] > 0, timeout_s, 0.05):
        raise TimeoutError(f"no row accepted within {timeout_s} s")
    return min(row["t"] for row in sandbox.control.rows(project=PROJECT_ID, campaign=CAMPAIGN_ID))


def measure(sandbox, t0: float, seconds: float, rate: float, sandbox_burst: int) -> dict:
    stats = sandbox.control.stats()
    times = sorted(row["t"] for row in sandbox.control.rows(project=PROJECT_ID, campaign=CAMPAIGN_ID))
    in_window = [t for t in times if t0 <= t < t0 + seconds]
    peak, peak_at = max_in_window(times, 1.0) if times else (0, 0.0)
    peak_in_window, _ = max_in_window(in_window, 1.0) if in_window else (0, 0.0)
    achieved = len(in_window) / seconds
    throttled = int(stats["status_counts"].get("429", 0))
    return {
        "window_s": seconds,
        "accepted_in_window": len(in_window),
        "achieved_per_s": round(achieved, 2),
        "achieved_share_of_R": round(achieved / rate, 4),
        "max_in_any_1s": peak,
        "max_in_any_1s_within_window": peak_in_window,
        "max_1s_at_offset_s": round(peak_at - t0, 2) if times else None,
        "sandbox_429": throttled,
        "sandbox_status_counts": stats["status_counts"],
        "accepted_total": stats["accepted"],
        "duplicates": stats["duplicates"],
        "ok_rate": achieved >= 0.98 * rate,
        "ok_peak": peak <= rate + sandbox_burst,
        "ok_429": throttled == 0,
    }


def cancel(env: dict, prefix: str, job_id: str) -> str:
    done = subprocess.run([PY, "-m", "workers", "job", "cancel", job_id], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return "telequeue job cancel"
    # an older CLI without `job cancel`: the ledger stops claiming once the state says so
    redis_client().hset(f"{prefix}job:{job_id}", "state", "cancelled")
    return f"HSET state cancelled (CLI said: {(done.stderr or done.stdout).strip()[-200:]})"


def run_telequeue(procs, sandbox, args, rows: int, csv_path: Path) -> dict:
    client = redis_client()
    prefix = unique_prefix("p3")
    env = telequeue_env(prefix, sandbox.url, rate_per_s=args.rate, burst=args.burst)
    try:
        start_workers(procs, "workers.app", env, "ringostat,bulk", args, "p3tq", prefix + "broker:")
        sandbox.control.reset()
        cli = subprocess.run([PY, "-m", "workers", "load", "ringostat-campaign", "--campaign", str(CAMPAIGN_ID),
                              "--detach", str(csv_path)], env={**os.environ, **env}, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        if cli.returncode != 0:
            raise RuntimeError(f"CLI exited {cli.returncode}: {cli.stderr[-1000:]}")
        job_id = cli.stdout.strip().splitlines()[-1].strip()
        t0 = first_accepted_t(sandbox, 30)
        time.sleep(max(0.0, t0 + args.seconds + 0.5 - time.time()))
        result = measure(sandbox, t0, args.seconds, args.rate, args.sandbox_burst)
        result["cancelled_by"] = cancel(env, prefix, job_id)
        stats_key = f"{prefix}limit:ringostat:default:stats"
        result["limiter_stats"] = {k.decode(): v.decode() for k, v in client.hgetall(stats_key).items()}
        cancelled_fast = poll(lambda: client.hget(f"{prefix}job:{job_id}", "finished_at") is not None, 20, 0.2)
        job = {k.decode(): v.decode() for k, v in client.hgetall(f"{prefix}job:{job_id}").items()}
        result["job_after_cancel"] = {k: job.get(k) for k in ("state", "valid", "delivered", "failed", "cancelled")}
        result["job_finished_after_cancel"] = cancelled_fast
    finally:
        procs.stop_workers()
        delete_prefix(client, prefix)
    return result


def run_naive(procs, sandbox, args, rows: int, naive_prefix: str) -> dict:
    from naive_app import post_row_limited  # env set in main() before this import

    client = redis_client()
    env = naive_env(naive_prefix, sandbox.url, NAIVE_RATE_LIMIT=f"{args.rate:g}/s")
    try:
        start_workers(procs, "bench.naive_app", env, "naive", args, "p3nv", naive_prefix + "naive:")
        sandbox.control.reset()
        enqueue_started = time.time()
        for i in range(rows):
            post_row_limited.delay(CAMPAIGN_ID, f"38093{i:07d}", "Naive Rate")
        enqueue_s = time.time() - enqueue_started
        t0 = first_accepted_t(sandbox, 30)
        time.sleep(max(0.0, t0 + args.seconds + 0.5 - time.time()))
        result = measure(sandbox, t0, args.seconds, args.rate, args.sandbox_burst)
        result["enqueue_s"] = round(enqueue_s, 2)
        result["rate_limit"] = f"{args.rate:g}/s"
        result["per_worker_per_s"] = round(result["achieved_per_s"] / args.processes, 2)
    finally:
        procs.stop_workers()
        delete_prefix(client, naive_prefix + "naive:")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement window per phase")
    parser.add_argument("--rate", type=float, default=50.0, help="R, per second: telequeue's and the sandbox's")
    parser.add_argument("--burst", type=int, default=1, help="telequeue's limiter burst")
    parser.add_argument("--sandbox-burst", type=int, default=5, help="the sandbox's burst (--rate 123=R/B)")
    parser.add_argument("--processes", type=int, default=4, help="worker processes")
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-telequeue", action="store_true")
    args = parser.parse_args()
    exit_on_sigterm()
    LOGS.mkdir(parents=True, exist_ok=True)
    rows = math.ceil(args.rate * args.seconds * 1.15) + 100
    csv_path = ensure_contacts(rows, bad_share=0.0, dup_share=0.0, seed=3)
    procs = Procs()
    naive_prefix = unique_prefix("p3nv")
    sandbox = procs.sandbox("--rate", f"{PROJECT_ID}={args.rate:g}/{args.sandbox_burst}")
    for key, value in naive_env(naive_prefix, sandbox.url).items():
        os.environ[key] = value
    results: dict = {}
    shape = f"{args.processes} processes x -P {args.pool} -c {args.concurrency}"
    print(f"P3 rate limit R={args.rate:g}/s, sandbox {args.rate:g}/s burst {args.sandbox_burst}, {shape}, "
          f"{args.seconds:g} s window, {rows} rows")
    try:
        if not args.skip_telequeue:
            results["telequeue"] = run_telequeue(procs, sandbox, args, rows, csv_path)
            report("telequeue", results["telequeue"], args)
        if not args.skip_naive:
            results["naive_celery_rate_limit"] = run_naive(procs, sandbox, args, rows, naive_prefix)
            report("celery rate_limit", results["naive_celery_rate_limit"], args)
    finally:
        procs.stop_all()
        delete_prefix(redis_client(), naive_prefix)
    data = {
        **results,
        "params": {"rate": args.rate, "burst": args.burst, "sandbox_burst": args.sandbox_burst, "seconds": args.seconds,
                   "processes": args.processes, "pool": args.pool, "concurrency": args.concurrency, "rows": rows},
        "targets": {"achieved_share_of_R": 0.98, "max_in_any_1s": args.rate + args.sandbox_burst, "sandbox_429": 0},
        "machine": machine(),
        "command": "python bench/p3_rate_limit.py" + ("" if args.seconds == 60 else f" --seconds {args.seconds:g}"),
    }
    name = RESULT if args.seconds == 60 and args.rate == 50 else f"{RESULT}-{args.rate:g}-{args.seconds:g}s"
    path = write_result(name, data)
    print(f"  -> {path.relative_to(ROOT)}")
    return 0


def report(label: str, r: dict, args) -> None:
    ok = lambda flag: "ok" if flag else "MISS"  # noqa: E731
    print(f"  {label:18} achieved {r['achieved_per_s']:6.2f}/s = {100 * r['achieved_share_of_R']:5.1f} % of R "
          f"{ok(r['ok_rate'])} | max in any 1 s {r['max_in_any_1s']:3} (<= {args.rate + args.sandbox_burst:g}) "
          f"{ok(r['ok_peak'])} | 429s {r['sandbox_429']} {ok(r['ok_429'])}")


if __name__ == "__main__":
    sys.exit(main())
