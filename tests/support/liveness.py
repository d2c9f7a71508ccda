"""What a worker process records about itself in Redis: its liveness record and the chunks it holds."""

from __future__ import annotations

import json
import socket
import subprocess

from tests.support.stack import Stack


def record_of(stack: Stack, proc: subprocess.Popen) -> dict | None:
    raw = stack.redis.get(f"{stack.prefix}worker:{socket.gethostname()}:{proc.pid}")
    return json.loads(raw) if raw else None


def held_of(stack: Stack, proc: subprocess.Popen, job_id: str) -> list[dict]:
    record = record_of(stack, proc)
    return [entry for entry in (record or {}).get("held", []) if entry["job_id"] == job_id]
