"""SIGTERM (a process manager, `kill`) stops a `telequeue` command as Ctrl-C does."""

from __future__ import annotations

import signal


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


def terminate_like_interrupt() -> None:
    """Make SIGTERM behave like Ctrl-C: it raises Terminated, a KeyboardInterrupt, in the main
    thread, so the `finally` blocks that stop child processes run. A second SIGTERM while they
    run is ignored: it must not cut the clean-up short."""
    def handler(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: only that one can take a signal handler
        pass  # (no `threading` import to ask first: ~5 M instructions of a --via load's start, workers.cli.via)
