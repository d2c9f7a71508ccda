"""Shared plumbing of the benchmarks: machine facts, process hygiene, Redis cleanup, results.

Every benchmark uses Redis DB 14 (override with BENCH_REDIS_URL) and its own random key
prefixes, starts its processes through `Procs`, and stops every one of them in a finally
block (also on Ctrl-C and SIGTERM), then deletes its keys.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

# The project's internals the benchmarks use, imported here only, so a move is one edit here.
# Everything else goes through public interfaces: the CLI, workers.client, Celery by app name,
# TELEQUEUE_* settings and the sandbox's command line and control API.
from sandbox import start_sandbox  # noqa: E402
from workers.cli.sigterm import terminate_like_interrupt  # noqa: E402
from workers.dev import devstack  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
OUT = ROOT / "bench" / "out"
LOGS = OUT / "logs"
PY = sys.executable
#: the sandbox's default Ringostat project and key (sandbox.config); settings default to them too
PROJECT_ID = "123"
AUTH_KEY = "sandbox-ringostat-key"
CAMPAIGN_ID = 456
ROWS_PATH = "/ringostat/power-dialer/campaigns/campaign-rows"


def unique_prefix(bench: str) -> str:
    return f"bench-{bench}-{uuid.uuid4().hex[:8]}:"


def redis_client() -> redis.Redis:
    db = int(REDIS_URL.rsplit("/", 1)[-1] or 0)
    if db < 14:
        raise SystemExit(f"refusing to run on Redis DB {db}: benchmarks use DB 14 or above")
    return redis.Redis.from_url(REDIS_URL)


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key under `prefix` (never a FLUSHDB: DB 14 may be shared)."""
    if not prefix or "*" in prefix:
        raise ValueError(f"unsafe prefix {prefix!r}")
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*", count=5000):
        batch.append(key)
        if len(batch) >= 1000:
            removed += client.unlink(*batch)
            batch = []
    if batch:
        removed += client.unlink(*batch)
    return removed


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        redis_version = redis_client().info("server")["redis_version"]
    except Exception:  # noqa: BLE001 - facts only
        redis_version = "unknown"
    import celery
    import kombu

    return {
        "git": git_state(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "redis": redis_version,
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def git_state() -> dict[str, Any]:
    """The commit measured, and the files (outside bench/) that differed from it at the time."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain").splitlines()
               if line[3:] and not line[3:].startswith("bench/")]
    return {"head": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_outside_bench": changed}


def write_result(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def telequeue_env(prefix: str, sandbox_url: str, *, rate_per_s: float, burst: int, **extra: str) -> dict[str, str]:
    """The env of tests/support/stack.py's Stack, on DB 14 with the benchmark's own prefixes."""
    env = {
        "TELEQUEUE_REDIS_URL": REDIS_URL,
        "TELEQUEUE_KEY_PREFIX": prefix,
        "TELEQUEUE_BROKER_KEY_PREFIX": prefix + "broker:",
        "TELEQUEUE_RINGOSTAT__BASE_URL": f"{sandbox_url}/ringostat",
        "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__AUTH_KEY": AUTH_KEY,
        "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__PROJECT_ID": PROJECT_ID,
        "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__RATE_PER_S": str(rate_per_s),
        "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__BURST": str(burst),
        "TELEQUEUE_RINGOSTAT__READ_TIMEOUT_S": "5",
        "TELEQUEUE_VISIBILITY_TIMEOUT_S": "3600",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def naive_env(prefix: str, sandbox_url: str, **extra: str) -> dict[str, str]:
    env = {
        "NAIVE_BROKER_URL": REDIS_URL,
        "NAIVE_KEY_PREFIX": prefix + "naive:",
        "NAIVE_SANDBOX_URL": sandbox_url,
        "NAIVE_AUTH_KEY": AUTH_KEY,
        "NAIVE_PROJECT_ID": PROJECT_ID,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


class Procs:
    """Every process a benchmark starts, each in its own session; stop_all() ends them all.

    Starting and stopping go through the shipped dev helpers (devstack) and the sandbox's own
    process helper, so the benchmarks do not keep a copy of that plumbing."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen] = []
        self.sandboxes: list[Any] = []

    def spawn(self, args: list[str], env: dict[str, str], logfile: Path | None = None) -> subprocess.Popen:
        """Any other process (Flower, a CLI run to time)."""
        proc = devstack.spawn(args, env, _fresh(logfile), cwd=str(ROOT))
        self._procs.append(proc)
        return proc

    def worker(self, app: str, env: dict[str, str], *, queues: str, pool: str, concurrency: int, name: str,
               logfile: Path | None = None, loglevel: str = "WARNING",
               extra_args: list[str] | None = None) -> subprocess.Popen:
        """A Celery worker of `app`; extra_args go on its command line (e.g. --prefetch-multiplier=1)."""
        proc = devstack.start_worker(env, app=app, queues=queues, pool=pool, concurrency=concurrency, name=name,
                                     logfile=_fresh(logfile), loglevel=loglevel, extra_args=extra_args or ())
        self._procs.append(proc)
        return proc

    def ready_worker(self, app: str, env: dict[str, str], *, queues: str, pool: str, concurrency: int, name: str,
                     broker_prefix: str, log: str, extra_args: list[str] | None = None) -> subprocess.Popen:
        """worker(), then wait (up to 60 s) until it answers a ping on `broker_prefix`; its output
        goes to bench/out/logs/<log>.log, whose end is shown if it exits first."""
        LOGS.mkdir(parents=True, exist_ok=True)
        logfile = LOGS / f"{log}.log"
        proc = self.worker(app, env, queues=queues, pool=pool, concurrency=concurrency, name=name, logfile=logfile,
                           extra_args=extra_args)
        wait_workers(broker_prefix, [name], timeout_s=60, procs=[proc], logs=[logfile])
        return proc

    def flower(self, env: dict[str, str], *, port: int, basic_auth: str,
               logfile: Path | None = None) -> subprocess.Popen:
        """Flower (workers.app) on 127.0.0.1:`port`, `basic_auth` from its environment (devstack)."""
        proc = devstack.start_flower(env, port=port, basic_auth=basic_auth, logfile=_fresh(logfile))
        self._procs.append(proc)
        return proc

    def sandbox(self, *args: str):
        box = start_sandbox(*args)
        self.sandboxes.append(box)
        return box

    def stop(self, proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
        devstack.stop(proc, timeout_s=timeout_s)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_workers(self, timeout_s: float = 10.0) -> None:
        devstack.stop_all(self._procs, timeout_s=timeout_s)
        self._procs.clear()

    def stop_all(self) -> None:
        self.stop_workers()
        for box in self.sandboxes:
            box.stop()
        self.sandboxes.clear()


def _fresh(logfile: Path | None) -> str | None:
    """devstack appends to a log; a benchmark wants this run's output only."""
    if logfile is None:
        return None
    logfile.unlink(missing_ok=True)
    return str(logfile)


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so finally blocks stop the processes and clean Redis."""
    terminate_like_interrupt()


def wait_workers(broker_prefix: str, names: list[str], timeout_s: float = 30.0, procs: list | None = None,
                 logs: list[Path] | None = None) -> float:
    """Block until every named worker answers a control ping; returns seconds waited.

    Fails at once, with the end of its log, when one of `procs` exits meanwhile."""
    from celery import Celery

    control_app = Celery("bench-ping", broker=REDIS_URL)
    control_app.conf.broker_transport_options = {"global_keyprefix": broker_prefix}
    started = time.monotonic()
    deadline = started + timeout_s
    try:
        while time.monotonic() < deadline:
            for i, proc in enumerate(procs or []):
                if proc.poll() is not None:
                    tail = logs[i].read_text(errors="replace")[-1500:] if logs else ""
                    raise RuntimeError(f"worker {names[i]} exited with {proc.returncode} before answering:\n{tail}")
            replies = control_app.control.ping(timeout=0.5) or []
            answered = {name.split("@", 1)[0] for reply in replies for name in reply}
            if all(name in answered for name in names):
                return time.monotonic() - started
        raise TimeoutError(f"workers {names} did not answer within {timeout_s} s")
    finally:
        control_app.close()


def poll(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    """devstack.wait_until, answering False instead of raising when time runs out."""
    try:
        devstack.wait_until(predicate, timeout_s, "a benchmark condition", interval_s)
    except TimeoutError:
        return predicate()
    return True


def cpu_s(pid: int) -> float:
    """utime + stime of a process and its reaped children, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds spent by the whole machine so far (all cores, /proc/stat), to spot other load."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_quiet(max_wait_s: float = 60.0, busy_share: float = 0.15, sample_s: float = 2.0) -> float:
    """Wait (at most max_wait_s) until the machine is nearly idle, so other jobs on a shared box
    distort a run less. Returns the busy share (0-1 of all cores) of the last sample."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before, t = machine_busy_s(), time.monotonic()
        time.sleep(sample_s)
        share = (machine_busy_s() - before) / (time.monotonic() - t) / (os.cpu_count() or 1)
        if share <= busy_share or time.monotonic() >= deadline:
            return share


def redis_cpu_s(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its live descendants (prefork children)."""
    total = cpu_s(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        total += tree_cpu_s(int(child))
    return total


def tree_threads(pid: int, *, children: bool = True) -> dict[int, tuple[str, float, int, int]]:
    """Per thread of a process and (unless children=False) its live descendants: (name, CPU seconds, voluntary and
    involuntary context switches), from /proc, keyed by thread id. Threads that end between two
    readings are missed; a worker's pool and sender threads live as long as it does."""
    threads: dict[int, tuple[str, float, int, int]] = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return threads
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
            # ns on the CPU: stat's utime + stime are in clock ticks (10 ms), too coarse per thread
            on_cpu_ns = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except OSError:
            continue
        switches = dict(line.split(":\t") for line in status.splitlines() if "ctxt_switches" in line)
        threads[tid] = (stat[stat.index("(") + 1:stat.rindex(")")], on_cpu_ns / 1e9,
                        int(switches["voluntary_ctxt_switches"]), int(switches["nonvoluntary_ctxt_switches"]))
    for child in kids if children else ():  # a prefork child's threads: "child MainThread"
        threads.update({tid: (f"child {name}", *rest) for tid, (name, *rest) in tree_threads(int(child)).items()})
    return threads


def thread_groups(before: dict, after: dict) -> dict[str, list[float]]:
    """What tree_threads() readings differ by, summed per kind of thread (the name without its
    number: `telequeue-send_12` -> `telequeue-send`): [CPU s, voluntary, involuntary switches, threads]."""
    import re

    groups: dict[str, list[float]] = {}
    for tid, (name, cpu, vol, nonvol) in after.items():
        _, cpu0, vol0, nonvol0 = before.get(tid, (name, 0.0, 0, 0))
        group = groups.setdefault(re.sub(r"[-_]?\d+$", "", name) or name, [0.0, 0, 0, 0])
        group[0] += cpu - cpu0
        group[1] += vol - vol0
        group[2] += nonvol - nonvol0
        group[3] += 1
    return groups


def ensure_contacts(rows: int, *, bad_share: float = 0.0, dup_share: float = 0.0, seed: int = 1) -> Path:
    """A generated contacts CSV under bench/out/, made once per (rows, shares, seed)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"contacts-{rows}-b{bad_share}-d{dup_share}-s{seed}.csv"
    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_suffix(".tmp")
    generator = ROOT / "bench" / "gen_contacts.py"
    subprocess.run([PY, str(generator), "--rows", str(rows), "--out", str(tmp), "--seed", str(seed),
                    "--bad-share", str(bad_share), "--dup-share", str(dup_share)], check=True)
    tmp.rename(path)
    return path


def max_in_window(times: list[float], window_s: float = 1.0) -> tuple[int, float]:
    """Largest number of events in any half-open window [t, t + window_s); and where it starts."""
    times = sorted(times)
    best, at, lo = 0, times[0] if times else 0.0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window_s:
            lo += 1
        if hi - lo + 1 > best:
            best, at = hi - lo + 1, times[lo]
    return best, at


def parse_env(items: list[str] | None) -> dict[str, str]:
    """`--env KEY=VALUE` options (repeated) as a dict: settings passed through to the workers."""
    env: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env expects KEY=VALUE, got {item!r}")
        env[key] = value
    return env


def load_now() -> dict[str, Any]:
    """The machine's load average (1, 5, 15 min) and cores, to print beside each figure."""
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "nproc": os.cpu_count()}


def load_text(load: dict[str, Any]) -> str:
    return "load {} on {} cores".format("/".join(f"{x:.2f}" for x in load["loadavg"]), load["nproc"])


def cli_load(env: dict[str, str], csv_path: Path, *, timeout_s: float = 60.0,
             tree: Path = ROOT) -> tuple[str, float, float]:
    """`python -m workers load ringostat-campaign --detach FILE` (the `telequeue` command), with
    the code of source tree `tree` (this one by default); returns the job id and the wall-clock
    times just before the process started and at its exit."""
    started = time.time()
    done = subprocess.run([PY, "-m", "workers", "load", "ringostat-campaign", "--campaign", str(CAMPAIGN_ID),
                           "--detach", str(csv_path)], env={**os.environ, **env}, cwd=tree,
                          capture_output=True, text=True, timeout=timeout_s)
    ended = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"telequeue load exited {done.returncode}: {done.stderr[-1000:]}")
    return done.stdout.strip().splitlines()[-1].strip(), started, ended


def cli_cancel(env: dict[str, str], job_id: str) -> None:
    subprocess.run([PY, "-m", "workers", "job", "cancel", job_id], env={**os.environ, **env}, cwd=ROOT,
                   capture_output=True, text=True, timeout=60, check=True)


def telequeue_client(env: dict[str, str]):
    """A workers.client.Telequeue for `env`'s settings. Settings are read once per process, so a
    benchmark makes one client, with one key prefix, for its whole run."""
    os.environ.update(env)
    from workers.client import Telequeue

    return Telequeue()
