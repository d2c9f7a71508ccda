"""Where a row's CPU goes in the worker: py-spy over one worker process while it sends a job.

    python bench/profile_row.py                                   # 3,000 rows, threads:8, no latency
    python bench/profile_row.py --latency-ms 100 --pool threads --concurrency 4 --rows 1600
    python bench/profile_row.py --env TELEQUEUE_ROWS_IN_FLIGHT=16 --top 30

One sandbox (optionally with --latency-ms), one worker process
(`celery -A workers.app worker -Q ringostat,bulk -P POOL -c C`, settings from TELEQUEUE_* plus
--env, limit 100000/s), a --rows job loaded through the CLI (`telequeue load --detach`).
`py-spy record --gil --subprocesses` samples the worker (and prefork children) from before the
load to the job's end: only samples holding the interpreter lock, i.e. where Python CPU goes.
The worker's CPU (user + sys, /proc) over the same span gives ms per row, so each share is also
shown as µs per row. Prints the time by library (the leaf frame's package), then the top
frames inclusive (overall, and in the project's own code below the chain every row runs through). The raw file stays under
bench/out/profiles/ for `python bench/_flame.py FILE`.

py-spy: `.venv/bin/pip install py-spy` (the script looks beside its Python, then on PATH,
or takes --py-spy). Profiling slows the worker: its throughput here is not a result.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _flame import read  # noqa: E402
from _stack import (  # noqa: E402
    OUT, PY, ROOT, Procs, cli_load, delete_prefix, ensure_contacts, exit_on_sigterm, load_now, load_text,
    parse_env, poll, redis_client, telequeue_client, telequeue_env, tree_cpu_s, unique_prefix,
)

PROJECT_DIRS = ("tasks", "workers", "vendors")


def library(frame: str) -> str:
    """The package of a frame's file (py-spy names files relative to sys.path: "redis/client.py",
    "threading.py", "<frozen abc>"); the project's own layers as "telequeue tasks/" etc."""
    match = re.search(r"\((.*)\)$", frame)
    path = match.group(1) if match else frame
    if path.startswith("<frozen "):
        return path.removeprefix("<frozen ").rstrip(">").split(".", 1)[0]
    path = path.removeprefix(str(ROOT) + "/")
    top = path.split("/", 1)[0].removesuffix(".py")
    return f"telequeue {top}/" if top in PROJECT_DIRS else top


def is_project(frame: str) -> bool:
    return library(frame).startswith("telequeue ")


def find_py_spy(given: str | None) -> str:
    found = given or (str(Path(PY).parent / "py-spy") if (Path(PY).parent / "py-spy").exists() else None)
    found = found or shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy not found: `.venv/bin/pip install py-spy`, or pass --py-spy PATH")
    return found


def record(args) -> tuple[Path, float, int, dict]:
    """Run the job under py-spy; returns the raw file, worker CPU seconds, rows accepted, load."""
    extra = parse_env(args.env)
    procs = Procs()
    prefix = unique_prefix("prof")
    raw = OUT / "profiles" / f"row-{args.pool}-{args.concurrency}-{int(args.latency_ms)}ms.raw"
    raw.parent.mkdir(parents=True, exist_ok=True)
    spy = None
    try:
        sandbox = procs.sandbox("--latency-ms", str(args.latency_ms))
        env = telequeue_env(prefix, sandbox.url, rate_per_s=100000, burst=100, **extra)
        client = telequeue_client(env)
        worker = procs.ready_worker("workers.app", env, queues="ringostat,bulk", pool=args.pool,
                                    concurrency=args.concurrency, name="proftq", broker_prefix=prefix + "broker:",
                                    log="profile-worker")
        csv_path = ensure_contacts(args.rows, bad_share=0.0, dup_share=0.0, seed=7)
        spy = subprocess.Popen([find_py_spy(args.py_spy), "record", "-r", str(args.rate), "-f", "raw", "--gil",
                                "--subprocesses", "-o", str(raw), "--pid", str(worker.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(1.0)  # py-spy attaches
        if spy.poll() is not None:
            raise SystemExit(f"py-spy exited: {spy.stderr.read().decode(errors='replace')[-500:]}")
        load = load_now()
        cpu_before = tree_cpu_s(worker.pid)
        job_id, _, _ = cli_load(env, csv_path)
        job = client.job(job_id)
        if not poll(lambda: job.status().finished, args.timeout, 0.1):
            print(f"  job not finished within {args.timeout:g} s; profiling what ran")
        cpu = tree_cpu_s(worker.pid) - cpu_before
        accepted = sandbox.control.stats()["accepted"]
        stats = redis_client().hgetall(f"{prefix}limit:ringostat:default:stats")
        # missed: slots a sender reached too late (a busy worker), each resent through a new slot
        print("  limiter stats " + ", ".join(f"{k.decode()} {float(v):g}" for k, v in sorted(stats.items())))
    finally:
        if spy is not None and spy.poll() is None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        procs.stop_all()
        delete_prefix(redis_client(), prefix)
    return raw, cpu, accepted, load


def report(raw: Path, cpu_s: float, rows: int, top: int) -> None:
    profile = read(str(raw))
    total = profile.total or 1
    us_per_row = 1e6 * cpu_s / max(rows, 1)

    def line(n: int, what: str) -> str:
        share = n / total
        return f"| {100 * share:5.1f} % | {share * us_per_row:7.0f} | {what} |"

    print(f"\n{profile.total} samples holding the GIL; worker CPU {cpu_s:.1f} s for {rows} rows = "
          f"{us_per_row / 1000:.3f} ms/row\n")
    by_library: Counter = Counter()
    for frame, n in profile.self_time.items():
        by_library[library(frame)] += n
    print("| share | µs/row | self time by library (leaf frame) |\n|---|---|---|")
    for name, n in by_library.most_common(top):
        print(line(n, name))
    print(f"\n| share | µs/row | top {top} frames, inclusive |\n|---|---|---|")
    for frame, n in profile.inclusive.most_common(top):
        print(line(n, frame))
    # The chain every row runs through (task -> chunk runner -> row) holds ~all samples: leave it
    # out so the table shows where the row's time splits (vendor call, limiter, ledger, ...).
    ours = [(frame, n) for frame, n in profile.inclusive.most_common() if is_project(frame)]
    head = ours[0][1] if ours else 0
    shown = [(frame, n) for frame, n in ours if n < 0.9 * head][:top]
    print(f"\n| share | µs/row | top {top} frames of tasks/ workers/ vendors/, inclusive, below the per-row "
          f"chain |\n|---|---|---|")
    for frame, n in shown:
        print(line(n, frame.replace(str(ROOT) + "/", "")))
    print(f"\nraw: {raw.relative_to(ROOT)} (python bench/_flame.py {raw.relative_to(ROOT)} --top 40)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--env", action="append", metavar="KEY=VALUE", help="a setting for the worker and CLI")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--py-spy", help="the py-spy binary (default: beside this Python, then PATH)")
    parser.add_argument("--raw", help="only summarise this existing raw file (needs --cpu-ms-per-row)")
    parser.add_argument("--cpu-ms-per-row", type=float, default=0.0)
    args = parser.parse_args()
    if args.raw:
        report(Path(args.raw).resolve(), args.cpu_ms_per_row, 1000, args.top)  # CPU s for 1,000 rows
        return 0
    exit_on_sigterm()
    print(f"profile: {args.rows} rows, 1 process -P {args.pool} -c {args.concurrency}, latency {args.latency_ms:g} ms")
    raw, cpu, accepted, load = record(args)
    print(f"  {accepted} rows accepted; {load_text(load)} at the start")
    report(raw, cpu, accepted, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
