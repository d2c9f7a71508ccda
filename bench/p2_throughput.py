"""P2: unthrottled end-to-end vendor calls/s against the sandbox, telequeue vs naive Celery.

    python bench/p2_throughput.py                                  # 10,000 rows, 4 shapes, < 3 min
    python bench/p2_throughput.py --rows 30000 --shapes threads:8  # one full-size shape per run
    python bench/p2_throughput.py --shapes 2xthreads:8,prefork:4 --skip-naive

For each worker shape (POOL:CONCURRENCY, optionally NxPOOL:CONCURRENCY for N worker
processes) two runs against one sandbox (reset before each run):

telequeue  N rows of a generated CSV (all valid) loaded through the real CLI
           (`python -m workers load ringostat-campaign --detach`) into real workers
           (`celery -A workers.app worker -Q ringostat,bulk`) with a limit of
           100000/s so the limiter never waits. Seconds = job created_at -> finished_at.
naive      the same N rows, one `naive.post_row.delay()` per row from this process
           (bench/naive_app.py: one requests.post per task, no ledger, no limiter) into
           the same worker shape. Seconds = first delay() -> last row accepted.

calls/s = rows accepted at the sandbox (/_sandbox/stats) / seconds. Workers are
started and answer a ping before the clock starts. Results merge into
bench/out/p2_throughput.json keyed by rows and shape.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (  # noqa: E402
    CAMPAIGN_ID, LOGS, OUT, PY, ROOT, Procs, delete_prefix, ensure_contacts, exit_on_sigterm, git_state, load_now,
    load_text, machine, machine_busy_s, naive_env, parse_env, poll, redis_client, redis_cpu_s, telequeue_client,
    telequeue_env, thread_groups, tree_cpu_s, tree_threads, unique_prefix, wait_quiet, wait_workers, write_result,
)

TARGET_CALLS_S = 2000.0
TARGET_RATIO = 5.0
TARGET_CPU_MS_PER_ROW = 0.4  # worker CPU (user + sys of the worker processes and their children) per row
DEFAULT_SHAPES = "threads:8,threads:16,prefork:2,prefork:4"
RESULT = "p2_throughput"


def parse_shape(text: str) -> tuple[int, str, int]:
    match = re.fullmatch(r"(?:(\d+)x)?(threads|prefork|solo):(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"shape {text!r}: expected [Nx]threads|prefork:CONCURRENCY")
    return int(match.group(1) or 1), match.group(2), int(match.group(3))


def shape_name(processes: int, pool: str, concurrency: int) -> str:
    return f"{processes}x{pool}:{concurrency}" if processes > 1 else f"{pool}:{concurrency}"


def start_workers(procs: Procs, app: str, env: dict, queues: str, shape: tuple[int, str, int], tag: str,
                  broker_prefix: str) -> list:
    processes, pool, concurrency = shape
    names = [f"{tag}{i}" for i in range(processes)]
    workers = [procs.worker(app, env, queues=queues, pool=pool, concurrency=concurrency, name=name,
                            logfile=LOGS / f"p2-{name}.log") for name in names]
    wait_workers(broker_prefix, names, timeout_s=60, procs=workers, logs=[LOGS / f"p2-{name}.log" for name in names])
    return workers


class Load:
    """Machine-wide CPU during a run, split into ours (workers, sandbox, this process + CLI), Redis and others."""

    def __init__(self, client) -> None:
        self._client = client
        self._t = time.monotonic()
        self._busy = machine_busy_s()
        self._redis = redis_cpu_s(client)
        self._self = _own_cpu_s()
        self.result: dict = {}

    def stop(self, workers_and_sandbox_cpu_s: float) -> None:
        wall = time.monotonic() - self._t
        busy = machine_busy_s() - self._busy
        redis_cpu = redis_cpu_s(self._client) - self._redis
        own = _own_cpu_s() - self._self
        others = busy - workers_and_sandbox_cpu_s - redis_cpu - own
        self.result = {"machine_busy_share": round(busy / wall / (os.cpu_count() or 1), 3),
                       "redis_cpu_s": round(redis_cpu, 1), "bench_and_cli_cpu_s": round(own, 1),
                       "other_processes_cpu_s": round(max(others, 0.0), 1), "loadavg_1m_end": os.getloadavg()[0]}


def _own_cpu_s() -> float:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


QUIET_WAIT_S = 20.0  # --quiet-wait
PROFILE_WITH: str | None = None  # a py-spy binary when --profile is given
THREAD_NAMES_WITH: str | None = None  # a py-spy binary when --thread-names is given
EXTRA_ENV: dict[str, str] = {}  # --env KEY=VALUE: settings for the telequeue workers and CLI


def start_profilers(procs: Procs, workers: list, tag: str) -> list:
    """py-spy record on every worker process (and prefork children) while the run lasts."""
    if not PROFILE_WITH:
        return []
    (OUT / "profiles").mkdir(parents=True, exist_ok=True)
    spies = []
    for i, worker in enumerate(workers):
        target = OUT / "profiles" / f"p2-{tag}-{i}.raw"
        spies.append(subprocess.Popen([PROFILE_WITH, "record", "-r", "100", "-f", "raw", "--subprocesses", "--gil",
                                       "-o", str(target), "--pid", str(worker.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    time.sleep(1.0)  # py-spy attaches
    return spies


def stop_profilers(spies: list) -> None:
    import signal

    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for spy in spies:
        try:
            spy.wait(15)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


def python_thread_names(pids: list[int]) -> dict[int, str]:
    """Thread id -> Python thread name, from `py-spy dump` (Python 3.11 does not name OS threads)."""
    names: dict[int, str] = {}
    if not THREAD_NAMES_WITH:
        return names
    for pid in pids:
        dump = subprocess.run([THREAD_NAMES_WITH, "dump", "--subprocesses", "--pid", str(pid)],
                              capture_output=True, text=True, timeout=60).stdout
        names.update((int(tid), name) for tid, name in re.findall(r'^Thread (\d+) \(\w+\): "(.*)"', dump, re.M))
    return names


def threads_by_kind(workers: list, before: dict) -> dict[str, list[float]]:
    """CPU and context switches of the workers' threads since `before`, per kind of thread."""
    after: dict = {}
    for worker in workers:
        after.update(tree_threads(worker.pid))
    names = python_thread_names([w.pid for w in workers])
    named = {tid: ((f"child {names[tid]}" if name.startswith("child ") else names[tid]) if tid in names else name, *rest)
             for tid, (name, *rest) in after.items()}
    return thread_groups({tid: (named.get(tid, v)[0], *v[1:]) for tid, v in before.items()}, named)


def sandbox_window(sandbox, n: int) -> dict:
    stats = sandbox.control.stats()
    rows = sandbox.control.rows(project=None, campaign=CAMPAIGN_ID)
    times = sorted(row["t"] for row in rows)
    return {"stats": stats, "first_t": times[0] if times else None, "last_t": times[-1] if times else None,
            "rows_seen": len(times)}


class Measured:
    """One run's measurement: a quiet machine first, then the CPU of workers and sandbox, the
    machine's other load and the profiles, from here to stop()."""

    def __init__(self, procs: Procs, sandbox, workers: list, client, tag: str) -> None:
        self.idle_before = wait_quiet(QUIET_WAIT_S)
        sandbox.control.reset()
        self._sandbox, self._workers = sandbox, workers
        self._sandbox_cpu_before = tree_cpu_s(sandbox.pid)
        self._worker_cpu_before = sum(tree_cpu_s(w.pid) for w in workers)
        self._threads_before: dict = {}
        for worker in workers:
            self._threads_before.update(tree_threads(worker.pid))
        self.load = Load(client)
        self._spies = start_profilers(procs, workers, tag)

    def stop(self, rows: int) -> dict:
        """Take the CPU figures, end the load sampling and profiles; returns the sandbox's window."""
        self.worker_cpu = sum(tree_cpu_s(w.pid) for w in self._workers) - self._worker_cpu_before
        self.sandbox_cpu = tree_cpu_s(self._sandbox.pid) - self._sandbox_cpu_before
        self.threads = threads_by_kind(self._workers, self._threads_before)
        self.load.stop(self.worker_cpu + self.sandbox_cpu)
        window = sandbox_window(self._sandbox, rows)
        stop_profilers(self._spies)
        return window


def run_telequeue(procs: Procs, sandbox, shape, rows: int, csv_path: Path, timeout_s: float, prefix: str) -> dict:
    client = redis_client()
    env = telequeue_env(prefix, sandbox.url, rate_per_s=100000, burst=100, **EXTRA_ENV)
    jobs = telequeue_client(env)  # one per process, for `prefix` (settings are read once)
    try:
        workers = start_workers(procs, "workers.app", env, "ringostat,bulk", shape, "p2tq", prefix + "broker:")
        measured = Measured(procs, sandbox, workers, client, f"telequeue-{shape_name(*shape)}")
        cli_started = time.time()
        cli = subprocess.run([PY, "-m", "workers", "load", "ringostat-campaign", "--campaign", str(CAMPAIGN_ID),
                              "--detach", str(csv_path)], env={**os.environ, **env}, cwd=ROOT,
                             capture_output=True, text=True, timeout=timeout_s)
        cli_s = time.time() - cli_started
        if cli.returncode != 0:
            raise RuntimeError(f"CLI exited {cli.returncode}: {cli.stderr[-1000:]}")
        job = jobs.job(cli.stdout.strip().splitlines()[-1].strip())
        finished = poll(lambda: job.status().finished_at is not None, timeout_s, 0.05)
        status = job.status()
        window = measured.stop(rows)
        # missed: slots a sender reached too late (a busy worker): each costs the row a new slot and claim
        limiter = {k.decode(): float(v) for k, v in client.hgetall(f"{prefix}limit:ringostat:default:stats").items()}
    finally:
        procs.stop_workers()
        delete_prefix(client, prefix)
    start = status.created_at
    end = status.finished_at if finished else time.time()
    return summarize("telequeue", rows, start, end, finished, window, measured.worker_cpu, measured.sandbox_cpu,
                     extra={**measured.load.result, "busy_share_before": round(measured.idle_before, 3), "cli_wall_s": round(cli_s, 2), "delivered": status.delivered,
                            "failed": status.failed, "job_state": status.state,
                            "limiter_stats": limiter, "threads": measured.threads})


def run_naive(procs: Procs, sandbox, shape, rows: int, csv_path: Path, timeout_s: float, naive_prefix: str) -> dict:
    import csv

    from naive_app import post_row  # env set in main() before this import

    client = redis_client()
    env = naive_env(naive_prefix, sandbox.url)
    try:
        workers = start_workers(procs, "bench.naive_app", env, "naive", shape, "p2nv", naive_prefix + "naive:")
        measured = Measured(procs, sandbox, workers, client, f"naive-{shape_name(*shape)}")
        with open(csv_path, encoding="utf-8", newline="") as fh:
            records = [(re.sub(r"\D", "", phone), fio) for phone, fio in list(csv.reader(fh))[1:rows + 1]]
        start = time.time()
        for phone, fio in records:
            post_row.delay(CAMPAIGN_ID, phone, fio)
        enqueue_s = time.time() - start
        finished = poll(lambda: sandbox.control.stats()["accepted"] >= len(records), timeout_s, 0.05)
        window = measured.stop(rows)
    finally:
        procs.stop_workers()
        delete_prefix(client, naive_prefix + "naive:")
    end = window["last_t"] if finished and window["last_t"] else time.time()
    return summarize("naive", rows, start, end, finished, window, measured.worker_cpu, measured.sandbox_cpu,
                     extra={**measured.load.result, "threads": measured.threads, "busy_share_before": round(measured.idle_before, 3), "enqueue_s": round(enqueue_s, 2), "enqueue_per_s": round(len(records) / enqueue_s)})


def summarize(kind, rows, start, end, finished, window, worker_cpu, sandbox_cpu, extra) -> dict:
    accepted = window["stats"]["accepted"]
    seconds = end - start
    steady = None
    if window["first_t"] and window["last_t"] and window["last_t"] > window["first_t"]:
        steady = (window["rows_seen"] - 1) / (window["last_t"] - window["first_t"])
    return {
        "kind": kind,
        "rows": rows,
        "finished": finished,
        "seconds": round(seconds, 2),
        "accepted": accepted,
        "calls_per_s": round(accepted / seconds, 1) if seconds > 0 else None,
        "steady_calls_per_s": round(steady, 1) if steady else None,
        "first_call_after_s": round(window["first_t"] - start, 2) if window["first_t"] else None,
        "status_counts": window["stats"]["status_counts"],
        "duplicates": window["stats"]["duplicates"],
        "worker_cpu_s": round(worker_cpu, 1),
        "worker_cpu_ms_per_row": round(1000 * worker_cpu / accepted, 3) if accepted else None,
        "load_at_end": load_now(),
        "sandbox_cpu_s": round(sandbox_cpu, 1),
        **extra,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--shapes", default=DEFAULT_SHAPES, help=f"comma-separated (default {DEFAULT_SHAPES})")
    parser.add_argument("--timeout", type=float, default=120.0, help="per run, seconds")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-telequeue", action="store_true")
    parser.add_argument("--quiet-wait", type=float, default=20.0,
                        help="before each run, wait up to this many seconds for the machine to be idle (shared box)")
    parser.add_argument("--env", action="append", metavar="KEY=VALUE",
                        help="a setting for the telequeue workers and CLI (repeatable)")
    parser.add_argument("--thread-names", metavar="PY_SPY", help="py-spy binary: name the workers' threads "
                        "(py-spy dump at the end) in the CPU and context switches printed per kind of thread")
    parser.add_argument("--profile", metavar="PY_SPY", help="py-spy binary: profile the workers of each run "
                        "into bench/out/profiles/ (summarise with bench/_flame.py)")
    args = parser.parse_args()
    global PROFILE_WITH, QUIET_WAIT_S, EXTRA_ENV, THREAD_NAMES_WITH
    PROFILE_WITH = args.profile
    THREAD_NAMES_WITH = args.thread_names
    EXTRA_ENV = parse_env(args.env)
    QUIET_WAIT_S = args.quiet_wait
    shapes = [parse_shape(s) for s in args.shapes.split(",")]
    exit_on_sigterm()
    LOGS.mkdir(parents=True, exist_ok=True)
    csv_path = ensure_contacts(args.rows, bad_share=0.0, dup_share=0.0, seed=2)
    procs = Procs()
    naive_prefix = unique_prefix("p2nv")
    prefix = unique_prefix("p2")
    sandbox = procs.sandbox()
    for key, value in naive_env(naive_prefix, sandbox.url).items():
        os.environ[key] = value
    results: dict[str, dict] = {}
    try:
        for shape in shapes:
            name = shape_name(*shape)
            entry: dict = {}
            if not args.skip_telequeue:
                entry["telequeue"] = run_telequeue(procs, sandbox, shape, args.rows, csv_path, args.timeout, prefix)
                print_run(name, entry["telequeue"])
            if not args.skip_naive:
                entry["naive"] = run_naive(procs, sandbox, shape, args.rows, csv_path, args.timeout, naive_prefix)
                print_run(name, entry["naive"])
            if "telequeue" in entry and "naive" in entry and entry["naive"]["calls_per_s"]:
                entry["ratio"] = round(entry["telequeue"]["calls_per_s"] / entry["naive"]["calls_per_s"], 2)
                print(f"  {name:14} ratio telequeue/naive = {entry['ratio']:.2f}x (target >= {TARGET_RATIO:.0f}x)")
            results[name] = entry
    finally:
        procs.stop_all()
        delete_prefix(redis_client(), naive_prefix)
        delete_prefix(redis_client(), prefix)
    save(args, results)
    return 0


def print_run(shape: str, r: dict) -> None:
    mark = "ok" if r["kind"] != "telequeue" or r["calls_per_s"] >= TARGET_CALLS_S else "MISS"
    cpu_mark = "" if r["kind"] != "telequeue" else (
        " ok" if (r["worker_cpu_ms_per_row"] or 99) <= TARGET_CPU_MS_PER_ROW else " MISS")
    note = "" if r["finished"] else "  (NOT FINISHED within timeout)"
    print(f"  {shape:14} {r['kind']:9} {r['accepted']:6} rows in {r['seconds']:6.2f} s = {r['calls_per_s']:7.1f} calls/s"
          f" (steady {r['steady_calls_per_s'] or 0:7.1f}/s; worker CPU {r['worker_cpu_ms_per_row'] or 0:.3f} ms/row"
          f"{cpu_mark}; cpu workers {r['worker_cpu_s']:.0f} s, sandbox "
          f"{r['sandbox_cpu_s']:.0f} s, redis {r['redis_cpu_s']:.0f} s, others {r['other_processes_cpu_s']:.0f} s; "
          f"statuses {r['status_counts']}; {load_text(r['load_at_end'])} at the end)"
          f"{'; limiter ' + str(r['limiter_stats']) if r.get('limiter_stats') else ''}"
          f"{'' if r['kind'] == 'naive' else ' ' + mark}{note}")
    rows = r["accepted"] or 1
    switches = sum(g[1] + g[2] for g in r["threads"].values())
    print(f"  {'':14} context switches {switches / rows:.1f}/row; per kind of thread: CPU µs/row, switches/row "
          f"voluntary + involuntary (threads): " + "; ".join(
              f"{kind} {1e6 * cpu / rows:.0f}, {vol / rows:.2f} + {nonvol / rows:.2f} ({n})"
              for kind, (cpu, vol, nonvol, n) in sorted(r["threads"].items(), key=lambda kv: -kv[1][0])))


def save(args, results: dict) -> None:
    path = OUT / f"{RESULT}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("runs", {})
    for shape, entry in results.items():
        env_key = "".join(f":{k}={v}" for k, v in sorted(EXTRA_ENV.items()))
        data["runs"][f"{args.rows}:{shape}{env_key}"] = {**entry, "rows": args.rows, "shape": shape, "env": EXTRA_ENV,
                                                "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                                                "git": git_state()}
    data["machine"] = machine()
    data["targets"] = {"calls_per_s": TARGET_CALLS_S, "ratio_vs_naive": TARGET_RATIO,
                       "worker_cpu_ms_per_row": TARGET_CPU_MS_PER_ROW}
    data["command"] = "python bench/p2_throughput.py [--rows N] [--shapes ...]"
    write_result(RESULT, data)
    print(f"  -> {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
