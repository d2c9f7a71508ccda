"""Run the sandbox as a child process on a free loopback port (tests, demo, benchmarks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests

from .client import SandboxControl

HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SandboxStartError(RuntimeError):
    pass


def free_port(host: str = HOST) -> int:
    # Closed again before the child binds it: a tiny race, acceptable on loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class SandboxProcess:
    def __init__(self, args: tuple[str, ...], port: int, python: str = sys.executable) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        # Files, not pipes: nobody reads the child's output while it runs, and a full pipe blocks it.
        self._stdout = tempfile.TemporaryFile()
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
        cmd = [python, "-m", "sandbox", "--host", HOST, "--port", str(port), *args]
        self.proc = subprocess.Popen(cmd, stdout=self._stdout, stderr=self._stderr, env=env)
        self.control = SandboxControl(self.url)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SandboxStartError(f"sandbox exited with {self.proc.returncode}: {self.stderr()}")
            try:
                if requests.get(f"{self.url}/_sandbox/health", timeout=1.0).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise SandboxStartError(f"sandbox not healthy after {timeout_s:.0f} s: {self.stderr()}")

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip() or "(no stderr)"

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after STOP_TIMEOUT_S); safe to call twice."""
        if self._stdout.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.control.close()
        self._stdout.close()
        self._stderr.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_sandbox(*args: str, port: int | None = None, timeout_s: float = START_TIMEOUT_S) -> SandboxProcess:
    """Start `python -m sandbox *args` and return once /_sandbox/health answers.

    args are CLI flags, e.g. start_sandbox("--latency-ms", "5", "--rate", "123=50/5").
    """
    process = SandboxProcess(tuple(args), port or free_port())
    try:
        process.wait_ready(timeout_s)
    except BaseException:
        process.stop()
        raise
    return process
