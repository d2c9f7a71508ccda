"""`telequeue demo`: the whole stack on this machine, and a 10,000-row campaign load into the sandbox."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from sandbox import start_sandbox
from workers.cli.progress import summary_table
from workers.cli.sigterm import terminate_like_interrupt
from workers.dev import devstack
from workers.jobs.registry import kind_of
from workers.jobs.report import write_report
from workers.jobs.store import JobStatus, JobStore
from workers.redis.connection import get_keys, get_redis
from workers.redis.url import masked
from workers.settings import get_settings

#: shipped as package data (pyproject: workers = ["dev/data/*.csv"]), so an installed demo finds it
EXAMPLE_CSV = Path(__file__).resolve().parent / "data" / "contacts-10k.csv"
#: (csv path, campaign id) -> the finished load's status: the CLI's load with its progress bar
Load = Callable[..., JobStatus]
DEMO_DIR = Path(".telequeue") / "demo"
#: the demo account's limit, and the sandbox's (a little looser, as a real vendor's would be)
DEMO_RATE_PER_S = 500
SANDBOX_LIMIT = "123=550/20"


def run(csv_path: Path, console: Console, *, load: Load, keep_running: bool | None, flower_port: int | None) -> int:
    """The demo; SIGTERM stops it like Ctrl-C, and every process it started stops with it."""
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    terminate_like_interrupt()
    procs, sandbox = [], None
    try:
        redis_url, redis_proc = devstack.ensure_redis(os.environ.get("TELEQUEUE_REDIS_URL", "redis://127.0.0.1:6379/0"))
        procs.append(redis_proc)
        console.print(f"redis    {masked(redis_url)}" + (" (started for the demo)" if redis_proc else ""))
        sandbox = start_sandbox("--rate", SANDBOX_LIMIT)
        console.print(f"sandbox  {sandbox.url} (Ringostat emulator)")
        env = demo_env(redis_url, sandbox.url)
        os.environ.update(env)  # this process produces the job: same settings as the worker
        procs.append(devstack.start_worker(env, name="demo", logfile=str(DEMO_DIR / "worker.log")))
        flower_port = flower_port or devstack.free_port()
        password = secrets.token_urlsafe(9)
        procs.append(devstack.start_flower(env, port=flower_port, basic_auth=f"demo:{password}",
                                           logfile=str(DEMO_DIR / "flower.log"), db_path=str(DEMO_DIR / "flower.db")))
        console.print(f"worker   logs in {DEMO_DIR / 'worker.log'}")
        wait_for_worker()
        return load_and_report(csv_path, console, load=load, flower=(flower_port, password),
                               keep_running=keep_running)
    finally:
        devstack.stop_all(procs)
        if sandbox:
            sandbox.stop()


def wait_for_worker(timeout_s: float = 60) -> None:
    # Here, not at the top: workers.app reads the settings when imported, and run() sets the
    # demo's TELEQUEUE_* environment (its Redis, the sandbox) first.
    from workers.app import app

    devstack.wait_until(lambda: bool(app.control.ping(timeout=0.5)), timeout_s, "the demo worker to start")


def demo_env(redis_url: str, sandbox_url: str) -> dict[str, str]:
    return {
        "TELEQUEUE_REDIS_URL": redis_url,
        "TELEQUEUE_KEY_PREFIX": "tq-demo:",
        "TELEQUEUE_BROKER_KEY_PREFIX": "tq-demo:",
        "TELEQUEUE_RINGOSTAT__BASE_URL": f"{sandbox_url}/ringostat",
        "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__RATE_PER_S": str(DEMO_RATE_PER_S),
        "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__BURST": "10",
    }


def load_and_report(csv_path: Path, console: Console, *, load: Load, flower, keep_running: bool | None) -> int:
    get_settings.cache_clear()
    console.print(f"loading  {csv_path} into campaign 456 at {DEMO_RATE_PER_S} rows/s\n")
    status = load(csv_path, campaign=456)
    console.print(summary_table(status))
    report = DEMO_DIR / "report.csv"
    store = JobStore(get_redis(), get_keys())
    count = write_report(store.problem_rows(status.id), report, columns=kind_of(status.kind).report_columns)
    port, password = flower
    console.print(f"\n{count} failed/rejected rows with reasons: {report}")
    console.print(f"Flower:  http://127.0.0.1:{port}  (user demo, password {password})")
    if not (keep_running if keep_running is not None else sys.stdin.isatty()):
        console.print("(the demo stack stops now; `telequeue demo --keep-running` keeps it up to look around)")
    else:
        console.print("everything keeps running for a look around; Ctrl-C (or SIGTERM) stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0 if status.finished else 1
