"""A real Flower (with the Jobs tab) over a real Stack, the uploads the tests send it, and a task's state
as Flower's API reports it."""

from __future__ import annotations

import uuid
from pathlib import Path

import psutil
import requests

from tests.support.stack import Stack
from workers.dev import devstack

AUTH = ("ops", f"flower-pass-{uuid.uuid4().hex[:8]}")
METRICS_TOKEN = f"metrics-token-{uuid.uuid4().hex}"


class FlowerStack:
    def __init__(self, redis_url: str, tmp: Path, *, queues: str = "ringostat,bulk", **settings: str) -> None:
        self.stack = Stack(redis_url, tmp, flower_metrics_token=METRICS_TOKEN, **settings)
        self.stack.start_worker(queues=queues)
        self.port = devstack.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "flower.log"
        self.proc = devstack.start_flower(self.stack.env, port=self.port, basic_auth=":".join(AUTH),
                                          logfile=str(self.log))
        devstack.wait_until(lambda: flower_answers(self.url), 30, "flower to answer")

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(f"{self.url}{path}", auth=AUTH, timeout=kwargs.pop("timeout", 10), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        headers = {"X-Requested-With": "tests", **kwargs.pop("headers", {})}
        return requests.post(f"{self.url}{path}", auth=AUTH, headers=headers, timeout=kwargs.pop("timeout", 60),
                             **kwargs)

    def upload(self, path: Path, **fields: str) -> requests.Response:
        with open(path, "rb") as stream:
            return self.post("/api/jobs", data=fields, files={"file": (path.name, stream, "text/csv")})

    def job_count(self) -> int:
        return self.stack.redis.zcard(f"{self.stack.prefix}jobs")

    def rss_bytes(self) -> int:
        """Resident memory of the Flower process (the celery command Popen started)."""
        return psutil.Process(self.proc.pid).memory_info().rss

    def stop(self) -> None:
        devstack.stop(self.proc)
        self.stack.stop()


def flower_answers(url: str) -> bool:
    """Flower's /healthcheck answers (the one path its auth leaves open)."""
    try:
        return requests.get(f"{url}/healthcheck", timeout=1).ok
    except requests.RequestException:
        return False


def flower_log_tail(fs: FlowerStack, chars: int = 3000) -> str:
    return fs.log.read_text(errors="replace")[-chars:] if fs.log.exists() else ""


def task_state(url: str, task_id: str, auth: tuple[str, str]) -> str | None:
    """A task's state as the Flower at `url` reports it (None while it reports none)."""
    return requests.get(f"{url}/api/task/result/{task_id}", auth=auth, timeout=5).json().get("state")


__all__ = ["AUTH", "METRICS_TOKEN", "FlowerStack", "flower_log_tail", "task_state"]
