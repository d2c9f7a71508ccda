"""For other Python apps: enqueue vendor operations and bulk jobs without the worker's parts.

    from workers.client import Telequeue
    from tasks.ringostat import CampaignRowPayload

    tq = Telequeue()                                   # settings from TELEQUEUE_* env, as the workers
    handle = tq.send(CampaignRowPayload(campaign_id=456, phone_number="380930000000", fio="Іван"))
    handle.get(timeout=30)                             # {'result': True}
    tq.enqueue("ringostat.campaign_rows.add", {"campaign_id": 456, "phone_number": "380930000001"})

    job = tq.load_campaign([{"phone": "093 000 00 02", "fio": "Петро"}], campaign_id=456)
    job.wait(timeout=600); job.status().delivered; job.report("failed.csv")

Payloads are validated here with the task's own model (and again in the worker); an invalid
one raises pydantic.ValidationError, an account missing from the settings UnknownAccount,
before anything is sent. Credentials are never sent: a
payload names an account alias that the workers resolve.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.result import AsyncResult
from pydantic import BaseModel

from tasks.catalog import load_all
from tasks.operations import OPERATIONS, Operation
from workers.celeryconf import client_app
from workers.jobs.report import write_report
from workers.jobs.store import JobStatus, JobStore
from workers.redis.connection import get_keys, get_redis
from workers.settings import vendor_account

if TYPE_CHECKING:
    from workers.jobs.control import JobControl


class UnknownTask(LookupError):
    pass


class TaskHandle:
    """What enqueueing returns: the task id, its state, and its result when done."""

    def __init__(self, result: AsyncResult) -> None:
        self._result = result
        self.id = result.id

    @property
    def state(self) -> str:
        return self._result.state

    def ready(self) -> bool:
        return self._result.ready()

    def get(self, timeout: float | None = None) -> Any:
        """The task's return value; raises the task's error if it failed."""
        return self._result.get(timeout=timeout)


class JobHandle:
    """A bulk job, the same one the CLI makes: progress, wait, cancel and report."""

    def __init__(self, job_id: str, control: JobControl, store: JobStore) -> None:
        self.id = job_id
        self._control = control
        self._store = store

    def status(self) -> JobStatus:
        return self._store.status(self.id)

    def wait(self, timeout: float | None = None, poll_s: float = 0.5) -> JobStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (status := self.status()).finished:
            if deadline is not None and time.monotonic() > deadline:
                paused = f" (paused: {status.pause_reason})" if status.pause_reason else ""
                raise TimeoutError(f"job {self.id}: {status.pending} rows still pending after {timeout} s{paused}")
            time.sleep(poll_s)
        return status

    def pause(self) -> None:
        self._control.pause(self.id)

    def resume(self) -> None:
        self._control.resume(self.id)

    def cancel(self) -> None:
        self._control.cancel(self.id)

    def retry_failed(self) -> int:
        return self._control.retry_failed(self.id)

    def report(self, path: str | Path) -> int:
        """Write failed and rejected rows (CSV, UTF-8 with BOM); returns how many."""
        from workers.jobs.registry import kind_of  # see Telequeue.__init__

        columns = kind_of(self.status().kind).report_columns
        return write_report(self._store.problem_rows(self.id), path, columns=columns)


class Telequeue:
    def __init__(self, app: Celery | None = None) -> None:
        # Here, not at the top: job control and the job kinds import every task module and the
        # vendor clients (+105 ms to `import workers.client`, python -X importtime; and
        # vendors.http, which tests/stack/test_client_api.py checks stays out); load_all() below
        # loads those task modules anyway.
        from workers.jobs.control import JobControl

        load_all()
        self.app = app or client_app()
        self._store = JobStore(get_redis(), get_keys())
        self._control = JobControl(get_redis(), get_keys(), self._publish)

    def enqueue(self, task_name: str, payload: dict | BaseModel, *, account: str | None = None) -> TaskHandle:
        """Validate `payload` with the task's model and send it by name."""
        operation = self._operation(task_name)
        data = payload.model_dump() if isinstance(payload, BaseModel) else dict(payload)
        if account is not None:
            data["account"] = account
        model = operation.payload.model_validate(data)
        # An account no worker has credentials for would sit in a queue nobody reads.
        vendor_account(operation.vendor, model.account)
        return TaskHandle(self.app.send_task(task_name, kwargs=model.model_dump(mode="json")))

    def send(self, payload: BaseModel) -> TaskHandle:
        """The typed way: the payload model names its task."""
        names = [op.name for op in OPERATIONS.values() if op.payload is type(payload)]
        if len(names) != 1:
            raise UnknownTask(f"{type(payload).__name__} is the payload of {len(names)} tasks; use enqueue()")
        return self.enqueue(names[0], payload)

    def load_campaign(self, rows: Iterable[dict], *, campaign_id: int, account: str = "default",
                      region: str | None = None) -> JobHandle:
        """A Ringostat Power Dialer campaign load from rows {"phone", "fio"}; rows are validated,
        duplicates and bad numbers rejected with their position (from 1) as line, or their own
        "line". Each row's line must be its own (it is the row's slot in the job's ledger): a line
        given twice raises workers.jobs.intake.DuplicateLine, before any job exists for a list."""
        from workers.jobs.kinds.ringostat_campaign import load_campaign_rows  # see __init__

        job_id = load_campaign_rows(rows, campaign_id=campaign_id, account=account, region=region,
                                    publish=self._publish)
        return self.job(job_id)

    def job(self, job_id: str) -> JobHandle:
        self._store.status(job_id)  # JobNotFound early
        return JobHandle(job_id, self._control, self._store)

    def operations(self) -> dict[str, Operation]:
        return dict(OPERATIONS)

    def _operation(self, task_name: str) -> Operation:
        try:
            return OPERATIONS[task_name]
        except KeyError:
            raise UnknownTask(f"no operation named {task_name!r}") from None

    def _publish(self, task_name: str, kwargs: dict, **options) -> None:
        self.app.send_task(task_name, kwargs=kwargs, **options)

