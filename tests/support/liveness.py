"""What a worker process records about itself in Redis: its liveness record and the chunks it holds."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from tests.support.delivery import job_id_of
from tests.support.stack import Stack
from workers.dev import devstack


def record_of(stack: Stack, proc: subprocess.Popen) -> dict | None:
    raw = stack.redis.get(f"{stack.prefix}worker:{socket.gethostname()}:{proc.pid}")
    return json.loads(raw) if raw else None


def held_of(stack: Stack, proc: subprocess.Popen, job_id: str) -> list[dict]:
    record = record_of(stack, proc)
    return [entry for entry in (record or {}).get("held", []) if entry["job_id"] == job_id]


def load_and_find_holder(stack: Stack, workers: list[subprocess.Popen], csv_path: Path,
                         campaign: int) -> tuple[str, subprocess.Popen]:
    """Once every worker keeps its liveness record, load a one-chunk campaign detached: the job's
    id and the worker that took its chunk."""
    devstack.wait_until(lambda: all(record_of(stack, w) for w in workers), 60, "the workers' liveness records")
    job_id = job_id_of(stack.cli("load", "ringostat-campaign", "--campaign", str(campaign), "--detach",
                                 str(csv_path)))
    devstack.wait_until(lambda: any(held_of(stack, w, job_id) for w in workers), 30, "a worker to take the chunk")
    [holder] = [w for w in workers if held_of(stack, w, job_id)]
    return job_id, holder
