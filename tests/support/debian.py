"""Debian packages a test needs beyond Python's: installed once when missing and we run as
root with apt-get (CI, a fresh dev machine), so the tests run on a new machine; otherwise the
caller skips and says why."""

from __future__ import annotations

import os
import shutil
import subprocess


def install(package: str) -> bool:
    """apt-get install `package`; True when it went in. apt's lists may be stale on a new
    machine, so one failed try runs `apt-get update` and tries again."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(command, env=env, capture_output=True, timeout=900).returncode == 0:
        return True
    subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
    return subprocess.run(command, env=env, capture_output=True, timeout=900).returncode == 0
