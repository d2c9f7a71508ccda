"""Shared steps of the R1/R2 recovery benchmarks: a stack with the default settings, and the
worker liveness records (Keys.worker) that say which worker holds which chunk."""

from __future__ import annotations

import json
import os
import socket
import subprocess

from _stack import PY, ROOT, redis_client, telequeue_env

#: settings telequeue_env tunes for the throughput benchmarks; recovery is measured without them
TUNED = ("TELEQUEUE_RINGOSTAT__READ_TIMEOUT_S", "TELEQUEUE_VISIBILITY_TIMEOUT_S")


def defaults_env(prefix: str, sandbox_url: str, *, rate_per_s: float) -> dict[str, str]:
    """Every recovery-related setting at its default (heartbeat, dead-after, lease, timeouts)."""
    env = telequeue_env(prefix, sandbox_url, rate_per_s=rate_per_s, burst=1)
    for name in TUNED:
        env.pop(name)
    return env


def record_of(prefix: str, pid: int) -> dict | None:
    raw = redis_client().get(f"{prefix}worker:{socket.gethostname()}:{pid}")
    return json.loads(raw) if raw else None


def holds(prefix: str, pid: int, job_id: str) -> list[dict]:
    return [entry for entry in (record_of(prefix, pid) or {}).get("held", []) if entry["job_id"] == job_id]


def job_field(prefix: str, job_id: str, field: str) -> str | None:
    value = redis_client().hget(f"{prefix}job:{job_id}", field)
    return value.decode() if value else None


def load_detached(env: dict[str, str], csv_path, campaign: int) -> str:
    done = subprocess.run([PY, "-m", "workers", "load", "ringostat-campaign", "--campaign", str(campaign), "--detach",
                           str(csv_path)], env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"load exited {done.returncode}: {done.stderr[-1000:]}")
    return done.stdout.strip().splitlines()[-1].strip()
