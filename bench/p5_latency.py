"""P5: latency-bound sending: one worker process against a vendor that answers late.

    python bench/p5_latency.py                               # both modes, < 2 min
    python bench/p5_latency.py --mode throughput --rows 3000 --env TELEQUEUE_ROWS_IN_FLIGHT=16
    python bench/p5_latency.py --mode limit --pool threads --concurrency 8 --env TELEQUEUE_ROWS_IN_FLIGHT=64

throughput  The sandbox answers every request after --latency-ms (100), no limit. One worker
            process (`celery -A workers.app worker -P POOL -c C`, threads:4 by default) sends a
            --rows job loaded through the CLI (`telequeue load --detach`, limiter at 100000/s);
            then naive Celery (bench/naive_app.py, one task per row, one `.delay()` per row
            from here) with the same worker shape. calls/s = rows accepted / seconds, seconds =
            job created_at -> finished_at (telequeue) or first `.delay()` -> last row applied
            (naive). Targets (issue 11): >= 200 calls/s and >= 5x naive.
limit       The sandbox answers after --limit-latency-ms (150) and throttles the project at R/s
            (--rate 500, --sandbox-burst, default R/10) with 429s; its limiter, like its row
            log's `t`, runs after the latency. One worker process with the options given
            (--pool, --concurrency, --env), TELEQUEUE_..._RATE_PER_S=R and BURST=--burst, sends
            a job big enough to outlast a --seconds window (from the first arrival); the job is
            cancelled afterwards (`telequeue job cancel`). Reported: achieved rate in the window
            as % of R (target >= 98 %), the most accepted rows arriving at the vendor in any 1 s
            window (target <= R + burst; counted on the sandbox's `arrived_t`, the send times,
            and on `t`, after its latency, where its own limiter counts), and the sandbox's 429s
            (target 0).

--env KEY=VALUE (repeatable) goes to the telequeue workers and CLI, e.g. the in-chunk
concurrency setting; --worker-arg ARG (repeatable) goes on the worker's command line (both
sides of the throughput mode). Results: bench/out/p5_latency.json (keyed by mode and shape).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (  # noqa: E402
    CAMPAIGN_ID, OUT, PROJECT_ID, ROOT, Procs, cli_cancel, cli_load, delete_prefix, ensure_contacts,
    exit_on_sigterm, git_state, load_now, load_text, machine, max_in_window, naive_env, parse_env, poll,
    redis_client, telequeue_client, telequeue_env, tree_cpu_s, unique_prefix, write_result,
)

RESULT = "p5_latency"
TARGET_CALLS_S = 200.0
TARGET_RATIO = 5.0
TARGET_SHARE_OF_R = 0.98


@dataclass(frozen=True)
class Loaded:
    """A telequeue job just loaded onto one ready worker, and what was read just before the load."""

    env: dict
    worker: subprocess.Popen
    job_id: str
    load: dict
    cpu_before: float

    def worker_cpu_s(self) -> float:
        """The worker's CPU seconds since just before the load."""
        return tree_cpu_s(self.worker.pid) - self.cpu_before


class Run:
    """What one phase shares: the sandbox, the process list, one telequeue key prefix and client."""

    def __init__(self, args) -> None:
        self.args = args
        self.procs = Procs()
        self.sandbox = self.procs.sandbox("--latency-ms", str(args.latency_ms))
        self.prefix = unique_prefix("p5")
        self.naive_prefix = unique_prefix("p5nv")
        self.extra_env = parse_env(args.env)
        self.redis = redis_client()
        base = telequeue_env(self.prefix, self.sandbox.url, rate_per_s=100000, burst=100, **self.extra_env)
        self.client = telequeue_client(base)  # the one client of this process (settings are read once)
        os.environ.update(naive_env(self.naive_prefix, self.sandbox.url))  # naive_app reads it at import

    def worker(self, app: str, env: dict, queues: str, tag: str, broker_prefix: str) -> object:
        return self.procs.ready_worker(app, env, queues=queues, pool=self.args.pool, concurrency=self.args.concurrency,
                                       name=tag, broker_prefix=broker_prefix, log=f"p5-{tag}",
                                       extra_args=self.args.worker_arg)

    def load_job(self, tag: str, csv_path: Path, *, rate_per_s: float, burst: int) -> Loaded:
        """Worker `tag` of telequeue at this limit, ready; the sandbox reset; `telequeue load --detach`."""
        env = telequeue_env(self.prefix, self.sandbox.url, rate_per_s=rate_per_s, burst=burst, **self.extra_env)
        worker = self.worker("workers.app", env, "ringostat,bulk", tag, self.prefix + "broker:")
        self.sandbox.control.reset()
        load = load_now()
        cpu_before = tree_cpu_s(worker.pid)
        job_id, _, _ = cli_load(env, csv_path)
        return Loaded(env, worker, job_id, load, cpu_before)

    def arrivals(self) -> list[dict]:
        return self.sandbox.control.rows(project=PROJECT_ID, campaign=CAMPAIGN_ID)

    def close(self) -> None:
        self.procs.stop_all()
        delete_prefix(self.redis, self.prefix)
        delete_prefix(self.redis, self.naive_prefix)


def throughput_telequeue(run: Run, csv_path: Path) -> dict:
    try:
        loaded = run.load_job("p5tq", csv_path, rate_per_s=100000, burst=100)
        job = run.client.job(loaded.job_id)
        finished = poll(lambda: job.status().finished, run.args.timeout, 0.05)
        status = job.status()
        cpu = loaded.worker_cpu_s()
    finally:
        run.procs.stop_workers()
    end = status.finished_at if finished and status.finished_at else time.time()
    return summarize("telequeue", run, status.created_at, end, finished, cpu, loaded.load,
                     {"delivered": status.delivered, "failed": status.failed, "job_state": status.state})


def throughput_naive(run: Run, csv_path: Path, rows: int) -> dict:
    from naive_app import post_row

    env = naive_env(run.naive_prefix, run.sandbox.url)
    try:
        worker = run.worker("bench.naive_app", env, "naive", "p5nv", run.naive_prefix + "naive:")
        with open(csv_path, encoding="utf-8", newline="") as fh:
            records = [(re.sub(r"\D", "", phone), fio) for phone, fio in list(csv.reader(fh))[1:rows + 1]]
        run.sandbox.control.reset()
        load = load_now()
        cpu_before = tree_cpu_s(worker.pid)
        start = time.time()
        for phone, fio in records:
            post_row.delay(CAMPAIGN_ID, phone, fio)
        finished = poll(lambda: run.sandbox.control.stats()["accepted"] >= len(records), run.args.timeout, 0.05)
        cpu = tree_cpu_s(worker.pid) - cpu_before
        times = [row["t"] for row in run.arrivals()]
    finally:
        run.procs.stop_workers()
        delete_prefix(run.redis, run.naive_prefix)
    end = max(times) if finished and times else time.time()
    return summarize("naive", run, start, end, finished, cpu, load, {})


def summarize(kind: str, run: Run, start: float, end: float, finished: bool, cpu: float, load: dict,
              extra: dict) -> dict:
    stats = run.sandbox.control.stats()
    arrived = sorted(row["arrived_t"] for row in run.arrivals())
    seconds = end - start
    steady = (len(arrived) - 1) / (arrived[-1] - arrived[0]) if len(arrived) > 1 and arrived[-1] > arrived[0] else None
    return {
        "kind": kind, "finished": finished, "seconds": round(seconds, 2), "accepted": stats["accepted"],
        "calls_per_s": round(stats["accepted"] / seconds, 1) if seconds > 0 else None,
        "steady_calls_per_s": round(steady, 1) if steady else None,
        "first_arrival_after_s": round(arrived[0] - start, 3) if arrived else None,
        "status_counts": stats["status_counts"], "duplicates": stats["duplicates"],
        "worker_cpu_s": round(cpu, 2), "worker_cpu_ms_per_row": round(1000 * cpu / max(stats["accepted"], 1), 3),
        "load_at_start": load, "load_at_end": load_now(), **extra,
    }


def mode_throughput(run: Run) -> dict:
    args = run.args
    csv_path = ensure_contacts(args.rows, bad_share=0.0, dup_share=0.0, seed=5)
    result: dict = {"rows": args.rows, "naive_rows": args.naive_rows or min(args.rows, 1200), "latency_ms": args.latency_ms, "shape": shape(args)}
    if not args.skip_telequeue:
        result["telequeue"] = throughput_telequeue(run, csv_path)
        print_throughput(result["telequeue"])
    if not args.skip_naive:
        result["naive"] = throughput_naive(run, csv_path, args.naive_rows or min(args.rows, 1200))
        print_throughput(result["naive"])
    if "telequeue" in result and "naive" in result and result["naive"]["calls_per_s"]:
        result["ratio"] = round(result["telequeue"]["calls_per_s"] / result["naive"]["calls_per_s"], 2)
        print(f"  ratio telequeue/naive = {result['ratio']:.2f}x (target >= {TARGET_RATIO:g}x)")
    return result


def print_throughput(r: dict) -> None:
    note = "" if r["finished"] else "  (NOT FINISHED within timeout)"
    print(f"  {r['kind']:9} {r['accepted']:6} rows in {r['seconds']:6.2f} s = {r['calls_per_s']:7.1f} calls/s "
          f"(steady {r['steady_calls_per_s'] or 0:.1f}/s, first arrival after {r['first_arrival_after_s']} s; "
          f"worker CPU {r['worker_cpu_ms_per_row']:.2f} ms/row; statuses {r['status_counts']}; "
          f"{load_text(r['load_at_start'])}){note}")


def mode_limit(run: Run) -> dict:
    args = run.args
    rate = args.rate
    rows = math.ceil(rate * args.seconds * 1.15) + 100
    csv_path = ensure_contacts(rows, bad_share=0.0, dup_share=0.0, seed=6)
    run.sandbox.control.configure(latency_ms=args.limit_latency_ms,
                                  rate_limits={PROJECT_ID: {"rate_per_s": rate, "burst": args.sandbox_burst}})
    try:
        loaded = run.load_job("p5lim", csv_path, rate_per_s=rate, burst=args.burst)
        if not poll(lambda: run.sandbox.control.stats()["accepted"] > 0, 30, 0.05):
            raise TimeoutError("no row accepted within 30 s")
        t0 = min(row["arrived_t"] for row in run.arrivals())
        time.sleep(max(0.0, t0 + args.seconds + args.limit_latency_ms / 1000 + 0.5 - time.time()))
        stats = run.sandbox.control.stats()
        limiter_key = f"{run.prefix}limit:ringostat:default:stats"
        limiter = {k.decode(): v.decode() for k, v in run.redis.hgetall(limiter_key).items()}
        rows_seen = run.arrivals()
        cpu = loaded.worker_cpu_s()
        load_end = load_now()
        cli_cancel(loaded.env, loaded.job_id)
    finally:
        run.procs.stop_workers()
        delete_prefix(run.redis, run.prefix)
        run.sandbox.control.configure(latency_ms=args.latency_ms, rate_limits={PROJECT_ID: None})
    sent = sorted(row["arrived_t"] for row in rows_seen)
    applied = sorted(row["t"] for row in rows_seen)
    in_window = [t for t in sent if t0 <= t < t0 + args.seconds]
    achieved = len(in_window) / args.seconds
    peak_sent, _ = max_in_window(sent) if sent else (0, 0.0)
    peak_applied, _ = max_in_window(applied) if applied else (0, 0.0)
    throttled = int(stats["status_counts"].get("429", 0))
    requests = sum(int(n) for n in stats["status_counts"].values())
    # Slots the limiter granted that no request used by then: given up late (a sender that
    # reached its slot too late takes a new one) plus those still booked ahead of now.
    unused = int(limiter.get("granted", 0)) - requests
    return {
        "rate": rate, "burst": args.burst, "sandbox_burst": args.sandbox_burst, "latency_ms": args.limit_latency_ms,
        "shape": shape(args), "window_s": args.seconds, "rows_in_job": rows,
        "accepted_in_window": len(in_window), "achieved_per_s": round(achieved, 2),
        "achieved_share_of_R": round(achieved / rate, 4),
        "max_in_any_1s_sent": peak_sent, "max_in_any_1s_applied": peak_applied,
        "sandbox_429": throttled, "status_counts": stats["status_counts"], "duplicates": stats["duplicates"],
        "most_ahead_sent": most_ahead(sent, rate), "most_ahead_applied": most_ahead(applied, rate),
        "limiter_stats": limiter, "slots_granted_not_sent": unused,
        "per_second_sent": [sum(1 for t in sent if t0 + i <= t < t0 + i + 1) for i in range(math.ceil(args.seconds))],
        "worker_cpu_ms_per_row": round(1000 * cpu / max(len(sent), 1), 3),
        "load_at_start": loaded.load, "load_at_end": load_end,
        "ok_rate": achieved >= TARGET_SHARE_OF_R * rate,
        "ok_peak": max(peak_sent, peak_applied) <= rate + args.sandbox_burst,
        "ok_429": throttled == 0,
    }


def print_limit(r: dict) -> None:
    ok = lambda flag: "ok" if flag else "MISS"  # noqa: E731
    print(f"  limit {r['rate']:g}/s at {r['latency_ms']:g} ms, {r['shape']}: achieved {r['achieved_per_s']:.2f}/s = "
          f"{100 * r['achieved_share_of_R']:.1f} % of R {ok(r['ok_rate'])} | max in any 1 s: sent "
          f"{r['max_in_any_1s_sent']}, applied {r['max_in_any_1s_applied']} (<= {r['rate'] + r['sandbox_burst']:g}) "
          f"{ok(r['ok_peak'])} | 429s {r['sandbox_429']} {ok(r['ok_429'])} | worker CPU "
          f"{r['worker_cpu_ms_per_row']:.2f} ms/row | {load_text(r['load_at_start'])}")
    if "most_ahead_sent" in r:
        print(f"  most requests ahead of R's schedule in any span (the vendor's burst is {r['sandbox_burst']}): "
              f"sent {r['most_ahead_sent']:.1f}, applied {r['most_ahead_applied']:.1f}")
    print(f"  sent per second of the window: {r['per_second_sent']}")
    print(f"  limiter stats {r['limiter_stats']}; slots granted but not sent (given up late, or booked "
          f"ahead when read) {r['slots_granted_not_sent']}")


def most_ahead(times: list[float], rate: float) -> float:
    """The most requests ahead of an even schedule at `rate` in any span of these (sorted)
    times: (requests in the span) - (its length x rate). The vendor's limiter (GCRA) answers
    429 once this passes its burst, so comparing the send times (`arrived_t`) with the times
    it applied them (`t`, after its latency sleep) shows which side bunched them."""
    best, lowest = 0.0, float("inf")
    for j, t in enumerate(times):
        lowest = min(lowest, j - t * rate)  # the span's first request i: i - t_i x rate, lowest
        best = max(best, (j + 1 - t * rate) - lowest)
    return best


def shape(args) -> str:
    return " ".join([f"1 process -P {args.pool} -c {args.concurrency}", *(args.worker_arg or [])])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("both", "throughput", "limit"), default="both")
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--env", action="append", metavar="KEY=VALUE",
                        help="a setting for the telequeue workers and CLI (repeatable), e.g. TELEQUEUE_ROWS_IN_FLIGHT=16")
    parser.add_argument("--worker-arg", action="append", metavar="ARG",
                        help="an extra option of the worker command line (repeatable), e.g. --worker-arg=-Ofair")
    parser.add_argument("--rows", type=int, default=1200, help="throughput mode: telequeue's rows")
    parser.add_argument("--naive-rows", type=int, help="throughput mode: naive's rows (default --rows, at most "
                        "1,200: naive runs at its ceiling, ~37/s with -c 4, so more only takes longer)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="throughput mode: the sandbox's latency")
    parser.add_argument("--timeout", type=float, default=90.0, help="throughput mode: per side, seconds")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-telequeue", action="store_true")
    parser.add_argument("--rate", type=float, default=500.0, help="limit mode: R, telequeue's and the vendor's")
    parser.add_argument("--burst", type=int, default=1, help="limit mode: telequeue's limiter burst")
    parser.add_argument("--sandbox-burst", type=int, help="limit mode: the vendor's burst (default R/10: "
                        "0.1 s of tolerance, as P3's 50/s burst 5)")
    parser.add_argument("--limit-latency-ms", type=float, default=150.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="limit mode: measurement window")
    args = parser.parse_args()
    if args.sandbox_burst is None:
        args.sandbox_burst = max(1, round(args.rate / 10))
    exit_on_sigterm()
    run = Run(args)
    results: dict = {}
    print(f"P5 latency-bound, {shape(args)}, env {run.extra_env or '{}'}")
    try:
        if args.mode in ("both", "throughput"):
            print(f" throughput: {args.rows} rows (naive {args.naive_rows or min(args.rows, 1200)}), "
                  f"latency {args.latency_ms:g} ms, no limit")
            results["throughput"] = mode_throughput(run)
        if args.mode in ("both", "limit"):
            results["limit"] = mode_limit(run)
            print_limit(results["limit"])
    finally:
        run.close()
    save(args, run, results)
    return 0


def save(args, run: Run, results: dict) -> None:
    path = OUT / f"{RESULT}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("runs", {})
    at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for mode, result in results.items():
        size = f"{args.rows}rows" if mode == "throughput" else f"{args.rate:g}per_s"
        key = f"{mode}:{size}:{args.pool}:{args.concurrency}:{' '.join(args.worker_arg or [])}:" + ",".join(
            f"{k}={v}" for k, v in sorted(run.extra_env.items()))
        data["runs"][key] = {**result, "env": run.extra_env, "at": at, "git": git_state(),
                             "command": "python " + " ".join(["bench/p5_latency.py", *sys.argv[1:]])}
    data["machine"] = machine()
    data["targets"] = {"calls_per_s": TARGET_CALLS_S, "ratio_vs_naive": TARGET_RATIO,
                       "achieved_share_of_R": TARGET_SHARE_OF_R, "max_in_any_1s": "R + burst", "sandbox_429": 0}
    write_result(RESULT, data)
    print(f"  -> {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
