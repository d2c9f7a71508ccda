"""`telequeue demo --keep-running` stopped with SIGTERM (a process manager, `kill`) leaves
nothing running: not its Redis, sandbox, worker or Flower."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil

from tests.support.data import write_contacts
from workers.dev import devstack


def test_sigterm_stops_the_demo_and_every_process_it_started(tmp_path):
    write_contacts(tmp_path / "c.csv", 50)
    # Nothing answers on this port: the demo starts a Redis of its own, which must stop too
    env = {**os.environ, "TELEQUEUE_REDIS_URL": f"redis://127.0.0.1:{devstack.free_port()}/0"}
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "workers", "demo", "--keep-running", str(tmp_path / "c.csv")],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    children: list[psutil.Process] = []
    try:
        devstack.wait_until(lambda: b"keeps running" in log.read_bytes() or demo.poll() is not None, 90,
                            "the demo to load and keep running")
        assert demo.poll() is None, log.read_text(errors="replace")[-2000:]
        children = psutil.Process(demo.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert all(part in names for part in ("redis-server", "sandbox", "worker", "flower")), names

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(30) == 0, log.read_text(errors="replace")[-2000:]
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert alive == [], [" ".join(p.cmdline()) for p in alive]
    finally:
        for proc in [*children, psutil.Process(demo.pid) if demo.poll() is None else None]:
            if proc is not None and proc.is_running():
                proc.kill()
