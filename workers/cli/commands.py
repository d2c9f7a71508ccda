"""`telequeue`: load bulk jobs and look after them.

Some imports sit in the functions that need them, each marked `# lazy`: a job kind with its
task module and Celery under it (~80 ms), the light Celery app that publishes
(workers.celeryconf: Celery and, at the first publish, kombu's Redis transport), job control
and the registry (every kind), the task catalog (~80 ms), rich (~35 ms) and the demo (sandbox,
aiohttp: ~500 ms) would otherwise slow every `telequeue` command, `--help` and `job status`
included (python -X importtime and wall time, 2 loaded cores, .pyc present). A load publishes
through the light app by task name, never through workers.app (the worker runtime, metrics and
every vendor's task modules: ~150 ms more), and `load --detach` prints no rich output: the
first row of a new job waits for none of them.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pydantic
import typer

from vendors.validation import describe

import kombu.exceptions
import redis

from workers.cli import progress
from workers.cli.sigterm import terminate_like_interrupt
from workers.jobs.intake import CsvFormatError
from workers.jobs.producer import LoadStopped
from workers.jobs.report import write_report
from workers.jobs.store import JobNotFound, JobStore
from workers.redis import connection as redis_connection
from workers.redis.connection import get_keys, get_redis
from workers.redis.url import masked
from workers.routing import queue_for
from workers.settings import UnknownAccount, get_settings, vendor_account

cli = typer.Typer(help="Rate-limited vendor API jobs on Celery.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
load_cli = typer.Typer(help="Load a bulk job from a file.", no_args_is_help=True)
job_cli = typer.Typer(help="Look after jobs.", no_args_is_help=True)
cli.add_typer(load_cli, name="load")
cli.add_typer(job_cli, name="job")

if TYPE_CHECKING:
    from celery import Celery
    from rich.console import Console


@functools.cache
def console() -> Console:
    """Messages and the progress bar, on stderr."""
    from rich.console import Console  # lazy: see the module docstring

    return Console(stderr=True)


@functools.cache
def out() -> Console:
    """What a command answers, on stdout."""
    from rich.console import Console  # lazy: see the module docstring

    return Console(soft_wrap=True)  # plain lines stay whole when piped (job list | awk)


#: a load's producer thread and the main thread (warn_if_no_worker) may both ask first
_celery_app_lock = threading.Lock()


def celery_app() -> Celery:
    """The light client app, one per process."""
    with _celery_app_lock:
        return _new_celery_app()


@functools.cache
def _new_celery_app() -> Celery:
    from workers.celeryconf import client_app  # lazy: see the module docstring

    return client_app()


def publish(task_name: str, kwargs: dict, **options) -> None:
    """How the CLI sends a task (a load's chunks, job control's): by name, no task registry needed."""
    celery_app().send_task(task_name, kwargs=kwargs, **options)


def fail(message: str, code: int = 1) -> None:
    console().print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def store() -> JobStore:
    return JobStore(get_redis(), get_keys())


def follow_handed_over(job_id: str, *, timeout_s: float | None = None) -> int:
    """What `load` shows once its job exists, for a load handed to a running loader
    (workers.cli.via): the job id, a queue no worker reads, the progress bar, the summary.
    Returns the exit code, as `load`'s: 0 once every row is accounted for."""
    def follow() -> None:
        try:
            store().status(job_id)
        except JobNotFound:  # the CLI's TELEQUEUE_REDIS_URL or TELEQUEUE_KEY_PREFIX is not Flower's
            fail(f"job {job_id} was started by the loader, but it is not in the Redis this CLI reads (are its "
                 f"TELEQUEUE_REDIS_URL/TELEQUEUE_KEY_PREFIX the loader's?): load with --detach, or follow the job "
                 f"in Flower")
        try:  # Ctrl-C or SIGTERM from the first line on: one line, exit 130, as the CLI's own load
            console().print(f"job [bold]{job_id}[/]")
            warn_if_no_worker(job_id)
            status = progress.follow(store(), job_id, console(), timeout_s=timeout_s)
        except KeyboardInterrupt:
            stopped_following(job_id)
            raise typer.Exit(130) from None
        finish(status)

    return guarded(follow)


def stopped_following(job_id: str, still: str = "") -> None:
    """Ctrl-C stops a load's progress bar, not its job: say so, and how to reach it again."""
    console().print(f"\nstopped following; job {job_id} goes on{still}: "
                  f"telequeue job follow {job_id} | job pause/cancel {job_id}", soft_wrap=True)


VIA_HELP = ("hand the file to the running loader at URL (Flower, its /api/jobs), which reads and enqueues it: the "
            "first row goes out without waiting for this process to start up; Flower's credentials from "
            "TELEQUEUE_LOAD_VIA_AUTH=user:password; not with --resume (that load runs here)")


def via_option():
    return typer.Option(None, "--via", metavar="URL", envvar="TELEQUEUE_LOAD_VIA", show_envvar=True, help=VIA_HELP)


def load_via(ctx: typer.Context) -> None:
    """A load with --via that reached the full CLI (workers.cli.main hands it over before importing
    this module; `workers.cli.commands:main` called directly does not): the same hand-over. Its
    form fields are the running command's options that via.KIND_OPTIONS names, the one table of
    them (the fast path's, and checked against Flower's forms), so no command spells them again."""
    from workers.cli import via  # lazy: only with --via

    kind, params = ctx.info_name, ctx.params
    fields = {name: str(params[name]) for name in map(via.field_name, via.KIND_OPTIONS[kind])
              if params[name] is not None}
    request = via.Handover(url=params["via"], kind=kind, file=str(params["file"]), fields=fields,
                           detach=params["detach"], timeout_s=params["timeout"])
    raise typer.Exit(via.hand_over(request, lambda job_id, timeout_s: follow_handed_over(job_id, timeout_s=timeout_s)))


@load_cli.command("ringostat-campaign")
def load_ringostat_campaign(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV with a phone column and optionally fio/name"),
    campaign: int = typer.Option(..., "--campaign", min=1, help="Power Dialer campaign id (editCampaign)"),
    account: str = typer.Option("default", help="account alias from settings"),
    region: Optional[str] = typer.Option(None, help="region for numbers without country code (default: settings, UA)"),
    phone_column: Optional[str] = typer.Option(None, help="header of the phone column"),
    name_column: Optional[str] = typer.Option(None, help="header of the name column"),
    detach: bool = typer.Option(False, "--detach", help="print the job id at once; no progress bar (exits once the file is enqueued)"),
    timeout: Optional[float] = typer.Option(None, help="stop following after this many seconds (the job goes on)"),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="JOB",
                                         help="go on with JOB, whose load of this same FILE ended early, after its last enqueued line"),
    via: Optional[str] = via_option(),
) -> None:
    """Load a CSV of contacts into a Ringostat Power Dialer campaign, one number per request."""
    if via and not resume:
        load_via(ctx)
    status = run_campaign_load(file, campaign=campaign, account=account, region=region, phone_column=phone_column,
                               name_column=name_column, detach=detach, timeout=timeout, resume=resume)
    if status is not None:
        finish(status)


def run_campaign_load(file: Path, *, campaign: int, detach: bool = False, timeout: float | None = None, **options):
    from workers.jobs.kinds.ringostat_campaign import load_campaign_csv  # lazy

    return run_load(lambda on_created: load_campaign_csv(file, campaign_id=campaign, publish=publish,
                                                         on_created=on_created, **options),
                    detach=detach, timeout=timeout)


def run_load(start, *, detach: bool = False, timeout: float | None = None):
    """Produce in a background thread while the progress bar follows the job; None when detached.

    `start(on_created)` creates the job, calls on_created(job_id) and then enqueues its rows.
    """
    created = threading.Event()
    job: dict[str, str] = {}

    def on_created(job_id: str) -> None:
        job["id"] = job_id
        created.set()

    with ThreadPoolExecutor(1) as pool:
        producing: Future = pool.submit(start, on_created)
        while not created.wait(0.1):
            if producing.done():
                _raise_load_error(producing)
        if detach:
            print(job["id"], flush=True)  # at once, so a script can follow the job while the file streams in
            _raise_load_error(producing, job["id"])  # the process lives until every row is enqueued
            return None
        console().print(f"job [bold]{job['id']}[/]")
        warn_if_no_worker(job["id"])
        try:
            status = progress.follow(store(), job["id"], console(), producing=lambda: not producing.done(),
                                     timeout_s=timeout)
        except KeyboardInterrupt:
            # Ctrl-C stops the progress bar, not the job: say so, and how to reach it again.
            stopped_following(job["id"], "" if producing.done() else " (the rest of the file is enqueued first)")
            producing.result()
            raise typer.Exit(130) from None
        _raise_load_error(producing, job["id"])
    return status


# Other job kinds' load commands go below this line, one function each.


@load_cli.command("ringostat-contacts")
def load_ringostat_contacts(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CRM export: JSON lines (.jsonl/.ndjson, the doc's contact objects) or CSV "
                                          "(full_name, origin, responsible, external_id and/or lead_id, phone, email, ...)"),
    account: str = typer.Option("default", help="account alias from settings"),
    batch_size: int = typer.Option(100, "--batch-size", min=1, max=1000, help="contacts per contacts/sync request"),
    detach: bool = typer.Option(False, "--detach", help="print the job id at once; no progress bar (exits once the file is enqueued)"),
    timeout: Optional[float] = typer.Option(None, help="stop following after this many seconds (the job goes on)"),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="JOB",
                                         help="go on with JOB, whose load of this same FILE ended early, after its last enqueued line"),
    via: Optional[str] = via_option(),
) -> None:
    """Sync CRM contacts to the Ringostat Smart Phone contact book (minicrm), a batch per request."""
    if via and not resume:
        load_via(ctx)
    from workers.jobs.kinds.ringostat_contacts import load_contacts_file  # lazy

    status = run_load(lambda on_created: load_contacts_file(file, publish=publish, account=account, batch_size=batch_size,
                                                            on_created=on_created, resume=resume),
                      detach=detach, timeout=timeout)
    if status is not None:
        finish(status)


@load_cli.command("obzvonilka-contacts")
def load_obzvonilka_contacts(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV with external_code and phone columns; optional name, email, "
                                          "address, description, www"),
    base: int = typer.Option(..., "--base", min=1, help="Obzvonilka contact base id"),
    account: str = typer.Option("default", help="account alias from settings"),
    region: Optional[str] = typer.Option(None, help="region for numbers without country code (default: settings, UA)"),
    detach: bool = typer.Option(False, "--detach", help="print the job id at once; no progress bar (exits once the file is enqueued)"),
    timeout: Optional[float] = typer.Option(None, help="stop following after this many seconds (the job goes on)"),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="JOB",
                                         help="go on with JOB, whose load of this same FILE ended early, after its last enqueued line"),
    via: Optional[str] = via_option(),
) -> None:
    """Upsert a CSV into an Obzvonilka contact base by external code: update the contact found, else create it."""
    if via and not resume:
        load_via(ctx)
    from workers.jobs.kinds.obzvonilka_contacts import load_contacts_csv  # lazy

    status = run_load(lambda on_created: load_contacts_csv(file, base_id=base, publish=publish, account=account,
                                                           region=region, on_created=on_created, resume=resume),
                      detach=detach, timeout=timeout)
    if status is not None:
        finish(status)


def _raise_load_error(producing: Future, job_id: str | None = None) -> None:
    try:
        producing.result()
    except LoadStopped as exc:
        fail(str(exc))
    except (CsvFormatError, UnknownAccount, ValueError) as exc:
        after = (f" (job {job_id} ends as aborted: the rows enqueued before this are still sent; "
                 f"the same command with --resume {job_id} goes on after them)") if job_id else ""
        fail(_message(exc) + after)


def _message(exc: Exception) -> str:
    # KeyError's str() wraps its message in quotes; the message itself is what we want.
    return str(exc.args[0]) if exc.args else str(exc)


def warn_if_no_worker(job_id: str) -> None:
    """Rows wait silently in a queue no worker reads: say which queue, and how to serve it."""
    status = store().status(job_id)
    queue = queue_for(status.vendor, status.account)
    replies = celery_app().control.inspect(timeout=1.0).active_queues() or {}
    served = {q["name"] for queues in replies.values() for q in queues}
    if queue not in served:
        console().print(f"[yellow]no worker reads queue {queue!r}: rows wait there until one starts "
                      f"(celery -A workers.app worker -Q {queue})[/]", soft_wrap=True)


def finish(status) -> None:
    out().print(progress.summary_table(status))
    if status.failed or status.rejected:
        out().print(f"failed and rejected rows: telequeue job report {status.id} -o failed.csv")
    if status.state == "paused" and status.pause_reason:
        fail(f"job {status.id} {status.pause_reason}: telequeue job resume {status.id}")
    if not status.finished:
        fail(f"job {status.id} is not finished: {status.pending} rows pending (state {status.state})")
    if status.aborted:
        fail(f"job {status.id} stopped loading early ({status.error}); the rows up to line {status.last_line} are "
             f"accounted for: the same load command with --resume {status.id} goes on with the rest")


@cli.command("send")
def send(
    task_name: str = typer.Argument(..., help="e.g. ringostat.campaign_rows.add (see the README's task table)"),
    payload: str = typer.Option("{}", help="JSON object: the task's payload model; `account` picks the credentials"),
    wait: Optional[float] = typer.Option(None, help="wait up to this many seconds and print the result"),
    raw: bool = typer.Option(False, "--raw", help="send as given, unchecked (the worker still validates)"),
) -> None:
    """Enqueue one vendor operation by task name, validated with its payload model first."""
    from tasks.catalog import load_all  # lazy
    from tasks.operations import OPERATIONS  # lazy

    try:
        kwargs = json.loads(payload)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not JSON: {exc}")
    if not isinstance(kwargs, dict):
        fail("--payload must be a JSON object")
    load_all()
    operation = OPERATIONS.get(task_name)
    if operation is None:
        fail(f"no operation named {task_name!r}; the README lists them")
    if not raw:
        try:
            kwargs = operation.payload.model_validate(kwargs).model_dump(mode="json")
            vendor_account(operation.vendor, kwargs.get("account", "default"))
        except (pydantic.ValidationError, UnknownAccount) as exc:
            fail(f"{task_name}: {_message(exc) if isinstance(exc, UnknownAccount) else _short(exc)}")
    result = celery_app().send_task(task_name, kwargs=kwargs)
    if wait is None:
        out().print(result.id)
        return
    try:
        value = result.get(timeout=wait, propagate=False)
    except Exception as exc:  # celery's TimeoutError and backend errors alike
        fail(f"task {result.id}: no result within {wait} s ({type(exc).__name__})")
    out().print_json(json.dumps({"id": result.id, "state": result.state, "result": _jsonable(value)}))
    if result.state != "SUCCESS":
        raise typer.Exit(1)


def _short(exc: pydantic.ValidationError) -> str:
    return describe(exc, whole="payload")


def _jsonable(value):
    return value if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)


@job_cli.command("status")
def job_status(job_id: str, as_json: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """Counters and state of a job."""
    status = _status(job_id)
    if as_json:
        out().print_json(json.dumps(status.as_dict()))
    else:
        out().print(progress.summary_table(status))


@job_cli.command("report")
def job_report(job_id: str, output: Path = typer.Option(Path("-"), "-o", "--output", help="CSV file, - for stdout")) -> None:
    """Failed and rejected rows with reasons, as CSV to fix and load again."""
    from workers.jobs.registry import kind_of  # lazy

    columns = kind_of(_status(job_id).kind).report_columns
    rows = store().problem_rows(job_id)
    if str(output) == "-":
        write_report(rows, sys.stdout, columns=columns)
    else:
        count = write_report(rows, output, columns=columns)  # UTF-8 with BOM: Excel then shows Cyrillic names right
        console().print(f"{count} rows written to {output}")


@job_cli.command("list")
def job_list(limit: int = typer.Option(20, help="how many, newest first")) -> None:
    """Recent jobs."""
    for status in store().list(limit):
        out().print(f"{status.id}  {status.state:9} {status.accounted}/{status.total}  {status.kind}  {status.target}",
                  highlight=False)


def _control():
    from workers.jobs.control import JobControl  # lazy: it imports the job kinds

    return JobControl(get_redis(), get_keys(), publish)


def _controlled(action: str, job_id: str) -> None:
    from workers.jobs.control import JobStateError  # lazy: it imports the job kinds

    _status(job_id)
    try:
        result = getattr(_control(), action.replace("-", "_"))(job_id)
    except JobStateError as exc:
        fail(str(exc))
    messages = {"pause": "paused: workers stop sending within seconds; `job resume` continues",
                "resume": f"resumed ({result} parked chunks sent back to the workers)",
                "cancel": "cancelled: pending rows end as cancelled",
                "retry-failed": f"{result} failed rows sent again"}
    console().print(f"job {job_id} {messages[action]}")


@job_cli.command("pause")
def job_pause(job_id: str) -> None:
    """Stop sending; nothing is lost, `job resume` continues."""
    _controlled("pause", job_id)


@job_cli.command("resume")
def job_resume(job_id: str) -> None:
    """Continue a paused job."""
    _controlled("resume", job_id)


@job_cli.command("cancel")
def job_cancel(job_id: str) -> None:
    """Stop for good: rows not yet sent end as cancelled (in the report)."""
    _controlled("cancel", job_id)


@job_cli.command("retry-failed")
def job_retry_failed(job_id: str) -> None:
    """Send the failed rows again, after the cause was fixed."""
    _controlled("retry-failed", job_id)


@job_cli.command("follow")
def job_follow(job_id: str, timeout: Optional[float] = typer.Option(None)) -> None:
    """Show the progress bar of a running job until it ends."""
    _status(job_id)
    finish(progress.follow(store(), job_id, console(), timeout_s=timeout))


def _status(job_id: str):
    try:
        return store().status(job_id)
    except JobNotFound as exc:
        fail(_message(exc))


@cli.command("demo")
def demo(
    file: Path = typer.Argument(None, help="CSV to load (default: the shipped 10,000-row example)"),
    keep_running: Optional[bool] = typer.Option(None, "--keep-running/--no-keep-running",
                                                help="keep the stack up after the load (default: when on a terminal)"),
    flower_port: Optional[int] = typer.Option(None, help="Flower's port (default: a free one)"),
) -> None:
    """Start Redis (if none answers), the sandbox, a worker and Flower, then load the example campaign."""
    from workers.dev import demo as demo_module  # lazy

    raise typer.Exit(demo_module.run(file or demo_module.EXAMPLE_CSV, console(), load=run_campaign_load,
                                     keep_running=keep_running, flower_port=flower_port))


def main() -> None:
    """The full CLI (`workers.cli.main` comes here for everything but a load handed over with --via)."""
    raise SystemExit(guarded(lambda: cli(standalone_mode=True)))


def guarded(run: Callable[[], None]) -> int:
    """Every error a user can cause or meet ends as one line and a non-zero exit: returns the exit code."""
    # SIGTERM (a process manager, `kill`) is Ctrl-C: follow stops, the demo stops what it started.
    terminate_like_interrupt()
    redis_connection.set_reporter(lambda line: console().print(f"[yellow]{line}[/]", highlight=False, soft_wrap=True))
    try:
        run()
    except typer.Exit as exc:  # outside click's own main (follow_handed_over)
        return exc.exit_code
    except (redis.RedisError, kombu.exceptions.OperationalError) as exc:
        console().print(f"[red]error:[/] cannot reach Redis/the broker at {_safe_url(get_settings().broker)}: {exc}",
                      highlight=False, soft_wrap=True)
        return 1
    except pydantic.ValidationError as exc:
        console().print(f"[red]error:[/] invalid settings (TELEQUEUE_* env or settings file): {_short(exc)}",
                      highlight=False, soft_wrap=True)
        return 1
    except OSError as exc:
        console().print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    return 0


def _safe_url(url: str) -> str:
    """A Redis URL without its password, for an error message."""
    return masked(url)
