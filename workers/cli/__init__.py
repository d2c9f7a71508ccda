"""The `telequeue` command: commands.py, its progress display (progress.py), and via.py, a load
handed to a running loader."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """`telequeue`. A load handed to a running loader (`--via URL` or TELEQUEUE_LOAD_VIA) is
    uploaded before the CLI's libraries are imported (workers.cli.via: ~350 ms a first row need
    not wait for); every other command, and every argv the plain reading there declines, is
    workers.cli.commands'."""
    from workers.cli import via

    request = via.request_from(sys.argv[1:], dict(os.environ))
    if request is not None:
        raise SystemExit(via.hand_over(request, _follow))
    from workers.cli.commands import main as full_cli

    full_cli()


def _follow(job_id: str, timeout_s: float | None) -> int:
    from workers.cli.commands import follow_handed_over  # after the upload: see main()

    return follow_handed_over(job_id, timeout_s=timeout_s)
