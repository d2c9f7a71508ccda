"""A whole telequeue on loopback for one test module: sandbox, workers, CLI, all real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import redis

from sandbox import start_sandbox
from workers import devstack

#: a key no test ever expects to see outside settings: the no-secrets test greps for it
SECRET_KEY = f"secret-{uuid.uuid4().hex}"
PROJECT_ID = "123"


def vendor_secret(vendor: str) -> str:
    """The key this test run gives a vendor's default account; never expected outside settings."""
    return f"{SECRET_KEY}-{vendor}"


class Stack:
    def __init__(self, redis_url: str, tmp: Path, *sandbox_args: str, **settings: str) -> None:
        self.prefix = f"tqtest-{uuid.uuid4().hex[:8]}:"
        self.redis = redis.Redis.from_url(redis_url)
        self.tmp = tmp
        self.sandbox = start_sandbox(*sandbox_args)
        self.sandbox.control.configure(projects={PROJECT_ID: SECRET_KEY})
        # Each vendor's sandbox learns this stack's secrets (see vendor_secret) below this line.
        self.env = {
            "TELEQUEUE_REDIS_URL": redis_url,
            "TELEQUEUE_KEY_PREFIX": self.prefix,
            "TELEQUEUE_BROKER_KEY_PREFIX": self.prefix + "broker:",
            "TELEQUEUE_RINGOSTAT__BASE_URL": f"{self.sandbox.url}/ringostat",
            "TELEQUEUE_POZVONIM__BASE_URL": f"{self.sandbox.url}/pozvonim/v2u",
            "TELEQUEUE_POZVONIM__ACCOUNTS__DEFAULT__API_KEY": vendor_secret("pozvonim"),
            "TELEQUEUE_POZVONIM__ACCOUNTS__DEFAULT__RATE_PER_S": "1000",
            "TELEQUEUE_OBZVONILKA__BASE_URL": f"{self.sandbox.url}/obzvonilka",
            "TELEQUEUE_OBZVONILKA__ACCOUNTS__DEFAULT__API_KEY": vendor_secret("obzvonilka"),
            "TELEQUEUE_OBZVONILKA__ACCOUNTS__DEFAULT__RATE_PER_S": "1000",
            "TELEQUEUE_SALESSCRIPTPROMPTER__BASE_URL": f"{self.sandbox.url}/salesscriptprompter/integration/apiv2",
            "TELEQUEUE_SALESSCRIPTPROMPTER__ACCOUNTS__DEFAULT__KEY": vendor_secret("salesscriptprompter"),
            "TELEQUEUE_SALESSCRIPTPROMPTER__ACCOUNTS__DEFAULT__RATE_PER_S": "1000",
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__AUTH_KEY": SECRET_KEY,
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__PROJECT_ID": PROJECT_ID,
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__RATE_PER_S": "5000",
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__BURST": "50",
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__BADKEY__AUTH_KEY": f"{SECRET_KEY}-refused",
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__BADKEY__PROJECT_ID": PROJECT_ID,
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__BADKEY__RATE_PER_S": "1000",
            "TELEQUEUE_RINGOSTAT__READ_TIMEOUT_S": "2",
            "TELEQUEUE_ROW_LEASE_S": "5",
            "TELEQUEUE_RETRY__BACKOFF_BASE_S": "0.5",
            "TELEQUEUE_RETRY__BACKOFF_MAX_S": "4",
            "TELEQUEUE_VISIBILITY_TIMEOUT_S": "3600",
            "PYTHONUNBUFFERED": "1",
            **{f"TELEQUEUE_{k.upper()}": v for k, v in settings.items()},
        }
        self.workers: list[subprocess.Popen] = []

    def start_worker(self, name: str | None = None, **kwargs) -> subprocess.Popen:
        name = name or f"w{len(self.workers)}"
        proc = devstack.start_worker(self.env, name=f"{name}-{self.prefix[:-1]}", logfile=str(self.log(name)), **kwargs)
        self.workers.append(proc)
        return proc

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def cli(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workers", *args], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=timeout_s)

    def rows(self, campaign: int) -> list[dict]:
        return self.sandbox.control.rows(project=PROJECT_ID, campaign=campaign)

    def stop(self) -> None:
        for proc in self.workers:
            devstack.stop(proc)
        self.sandbox.stop()
        for key in self.redis.scan_iter(match=f"{self.prefix}*", count=1000):
            self.redis.delete(key)
