"""A private redis-server for tests that kill, restart or share one: with an AOF, on another
address than loopback. (The demo's plain one is workers.dev.devstack.start_redis.)"""

from __future__ import annotations

import subprocess
import tempfile

from workers.dev import devstack


def start_redis(port: int | None = None, *, host: str = devstack.LOOPBACK, appendonly: bool = False,
                workdir: str | None = None, appendfsync: str = "everysec") -> tuple[str, subprocess.Popen]:
    """A private redis-server listening on `host` only (a free port unless given); returns its
    URL and process. `workdir` holds its AOF (a fresh temporary directory unless given: pass the
    same one again to restart it from its AOF).

    Another `host` than loopback is e.g. an address on a test link that network namespaces
    reach (tests/stack/test_multihost.py): protected mode is off there so they get in, and there is
    no password, so never a shared address.
    """
    port = port or devstack.free_port()
    workdir = workdir or tempfile.mkdtemp(prefix="telequeue-redis-")
    args = ["--port", str(port), "--bind", host]
    if host != devstack.LOOPBACK:
        args += ["--protected-mode", "no"]
    args += ["--save", "", "--appendonly", "yes" if appendonly else "no", "--appendfsync", appendfsync,
             "--dir", workdir]
    url = f"redis://{host}:{port}/0"
    return url, devstack.run_redis_server(args, url)
