"""A whole telequeue on loopback for one test module: sandbox, workers, CLI, all real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import redis

from sandbox import start_sandbox
from sandbox import obzvonilka as sandbox_obzvonilka
from sandbox import pozvonim as sandbox_pozvonim
from sandbox import salesscriptprompter as sandbox_salesscriptprompter
from tests.support.rabbitmq import delete_rabbitmq_vhost, rabbitmq_vhost
from workers.dev import devstack

#: Run the stacks on another broker, e.g. amqp://guest:guest@127.0.0.1:5672// (RabbitMQ): each
#: Stack then gets a vhost of its own (rabbitmqctl add_vhost), removed when it stops. The
#: limiter, ledgers, deferred retries and results stay in Redis. Unset: Redis is the broker.
TEST_BROKER_URL = os.environ.get("TELEQUEUE_TEST_BROKER_URL", "")

#: a key no test ever expects to see outside settings: the no-secrets test greps for it
SECRET_KEY = f"secret-{uuid.uuid4().hex}"
PROJECT_ID = "123"


def vendor_secret(vendor: str) -> str:
    """The key this test run gives a vendor's default account; never expected outside settings."""
    return f"{SECRET_KEY}-{vendor}"


#: settings the stacks shorten so that timing tests run fast; Stack(defaults=True) leaves them
#: out, for tests of what a user gets with the defaults (recovery, leases, retries)
TUNED = ("TELEQUEUE_RINGOSTAT__READ_TIMEOUT_S", "TELEQUEUE_ROW_LEASE_S", "TELEQUEUE_RETRY__BACKOFF_BASE_S",
         "TELEQUEUE_RETRY__BACKOFF_MAX_S", "TELEQUEUE_VISIBILITY_TIMEOUT_S")


class Stack:
    def __init__(self, redis_url: str, tmp: Path, *sandbox_args: str, defaults: bool = False,
                 broker_url: str = TEST_BROKER_URL, **settings: str) -> None:
        self.prefix = f"tqtest-{uuid.uuid4().hex[:8]}:"
        self.redis = redis.Redis.from_url(redis_url)
        self.tmp = tmp
        self.sandbox = start_sandbox(*sandbox_args)
        self.sandbox.control.configure(projects={PROJECT_ID: SECRET_KEY})
        # Each vendor's sandbox learns this stack's secrets (see vendor_secret) below this line.
        sandbox_obzvonilka.configure(self.sandbox.url, api_keys={vendor_secret("obzvonilka"): "default"})
        sandbox_salesscriptprompter.configure(self.sandbox.url, keys={vendor_secret("salesscriptprompter"): "default"})
        sandbox_pozvonim.configure(self.sandbox.url, accounts={"1001": vendor_secret("pozvonim")})
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
        if defaults:
            for name in TUNED:
                self.env.pop(name)
            self.env.update({f"TELEQUEUE_{k.upper()}": v for k, v in settings.items()})
        self.vhost: str | None = None
        if broker_url.startswith(("amqp://", "pyamqp://", "amqps://")):
            self.vhost = self.prefix[:-1]
            self.env["TELEQUEUE_BROKER_URL"] = rabbitmq_vhost(broker_url, self.vhost)
        elif broker_url:
            self.env["TELEQUEUE_BROKER_URL"] = broker_url
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
        if self.vhost:
            delete_rabbitmq_vhost(self.vhost)
        for key in self.redis.scan_iter(match=f"{self.prefix}*", count=1000):
            self.redis.delete(key)
