"""RabbitMQ as the test broker: one vhost per Stack keeps queues apart (TELEQUEUE_TEST_BROKER_URL=amqp://...)."""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import quote, urlsplit


def rabbitmq_vhost(broker_url: str, vhost: str) -> str:
    """Create `vhost` on the local RabbitMQ, give the URL's user all rights on it, and return
    the broker URL pointing at it. Needs `rabbitmqctl` on this machine, run with the rights to
    manage the node (root here)."""
    parts = urlsplit(broker_url)
    user = parts.username or "guest"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return f"{parts.scheme}://{parts.netloc}/{quote(vhost, safe='')}"


def delete_rabbitmq_vhost(vhost: str) -> None:
    """Remove a vhost made by rabbitmq_vhost, with every queue and message in it."""
    _rabbitmqctl("delete_vhost", vhost, check=False)


def _rabbitmqctl(*args: str, check: bool = True) -> None:
    binary = shutil.which("rabbitmqctl")
    if binary is None:
        raise RuntimeError("rabbitmqctl not found: an amqp:// test broker needs it to make a vhost per stack")
    done = subprocess.run([binary, "-q", *args], capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[-300:]}")
