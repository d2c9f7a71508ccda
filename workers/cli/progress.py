"""Follow a job to its end with a rich progress bar, and summarise it.

rich is imported where a bar or a table is drawn (~35 ms, python -X importtime on 2 loaded
cores): `telequeue load --detach` draws neither and its first chunk does not wait for rich.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from workers.jobs.store import JobStatus, JobStore

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def follow(store: JobStore, job_id: str, console: Console, *, producing: Callable[[], bool] = lambda: False,
           poll_s: float = 0.5, timeout_s: float | None = None) -> JobStatus:
    """Poll the job until it finishes (or timeout_s passes); the bar counts rows with an outcome."""
    from rich.progress import (  # lazy: see the module docstring
        BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
    )

    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[detail]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("reading", total=None, detail="")
        while True:
            status = store.status(job_id)
            reading = producing() or not status.produced
            progress.update(
                bar, description="reading" if reading else ("sending" if status.state == "running" else status.state),
                total=None if reading else status.total, completed=status.accounted, detail=_detail(status),
            )
            if status.finished or (deadline is not None and time.monotonic() > deadline):
                return status
            if status.state == "paused" and status.pause_reason:
                return status  # a worker paused it (an auth error): waiting would not end it
            time.sleep(poll_s)


def _detail(status: JobStatus) -> str:
    from rich.markup import escape  # lazy: see the module docstring

    detail = f"[green]{status.delivered} ok[/] [red]{status.failed} failed[/] [yellow]{status.rejected} rejected[/]"
    if status.state == "paused" and status.pause_reason:
        detail += f" [red]{escape(status.pause_reason)}[/]"
    return detail


def summary_table(status: JobStatus) -> Table:
    from rich.markup import escape  # lazy: see the module docstring
    from rich.table import Table  # lazy: see the module docstring

    table = Table(title=f"job {status.id}: {status.target}", show_header=False)
    rows = [("state", status.state), ("rows read", status.total), ("delivered", status.delivered),
            ("failed", status.failed), ("rejected", status.rejected), ("cancelled", status.cancelled),
            ("pending", status.pending), ("sent again after unknown outcome", status.unknown_outcome)]
    if status.pause_reason:
        rows.insert(1, ("paused because", status.pause_reason))
    if status.aborted:
        rows.append(("loading stopped early", f"after line {status.last_line}: {status.error}"))
    if status.finished_at:
        rows.append(("took", f"{status.finished_at - status.created_at:.1f} s"))
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    return table
