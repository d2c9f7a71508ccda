"""The JSON API of the Jobs tab, under /api/jobs: list, status, actions, report.

    GET  /api/jobs?limit=20                     newest first
    POST /api/jobs                              start a load from a CSV (workers.flower.upload)
    GET  /api/jobs/JOB                          counters, rate, ETA, limiter, failures, chunks in flight
    POST /api/jobs/JOB/pause|resume|cancel|retry-failed
    GET  /api/jobs/JOB/report                   failed, cancelled and rejected rows as CSV
"""

from __future__ import annotations

import io
import tempfile

from tornado import web

from workers.flower.base import ApiHandler
from workers.flower.upload import UploadHandler
from workers.jobs.control import JobControl, JobStateError
from workers.jobs.registry import kind_of
from workers.jobs.report import write_report
from workers.jobs.store import JobNotFound, JobStore
from workers.redis.connection import get_keys, get_redis

MAX_LIST = 200
REPORT_BLOCK = 64 * 1024
ACTIONS = ("pause", "resume", "cancel", "retry-failed")


class Jobs(UploadHandler):
    @web.authenticated
    async def get(self) -> None:
        limit = self.get_argument("limit", 20, type=int)
        if not 1 <= limit <= MAX_LIST:
            self.fail(400, f"limit must be 1..{MAX_LIST}")
        self.write({"jobs": await self.off_loop(self.snapshots().jobs, limit)})


class Job(ApiHandler):
    @web.authenticated
    async def get(self, job_id: str) -> None:
        try:
            self.write(await self.off_loop(self.snapshots().detail, job_id))
        except JobNotFound as exc:
            self.fail(404, str(exc))


class JobAction(ApiHandler):
    @web.authenticated
    async def post(self, job_id: str, action: str) -> None:
        # Flower's Celery app is workers.app's: the same publish as `telequeue job ...`.
        control = JobControl(get_redis(), get_keys(),
                             lambda name, kwargs, **options: self.capp.send_task(name, kwargs=kwargs, **options))
        try:
            result = await self.off_loop(getattr(control, action.replace("-", "_")), job_id)
            status = await self.off_loop(JobStore(get_redis(), get_keys()).status, job_id)
        except JobNotFound as exc:
            self.fail(404, str(exc))
        except JobStateError as exc:
            self.fail(409, str(exc))
        self.write({"job_id": job_id, "action": action, "state": status.state,
                    # resume: parked chunks sent again; cancel: parked chunks sent to be marked; retry-failed: rows
                    "count": result if isinstance(result, int) else None})


class JobReport(ApiHandler):
    """The same CSV as `telequeue job report JOB -o FILE` (UTF-8 with BOM, formula cells
    escaped by workers.jobs.report), written to a temporary file off the loop, then streamed."""

    @web.authenticated
    async def get(self, job_id: str) -> None:
        try:
            kind = kind_of((await self.off_loop(JobStore(get_redis(), get_keys()).status, job_id)).kind)
        except JobNotFound as exc:
            self.fail(404, str(exc))
        with tempfile.TemporaryFile() as spool:
            await self.off_loop(_write_report, job_id, kind.report_columns, spool)
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f'attachment; filename="{job_id}-report.csv"')
            while block := spool.read(REPORT_BLOCK):
                self.write(block)
                await self.flush()


def _write_report(job_id: str, columns: tuple[str, ...], spool) -> None:
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
    write_report(JobStore(get_redis(), get_keys()).problem_rows(job_id), text, columns=columns)
    text.flush()
    text.detach()
    spool.seek(0)


ROUTES = [
    (r"/api/jobs", Jobs, "api_jobs"),
    (r"/api/jobs/([\w.-]+)", Job, "api_job"),
    (rf"/api/jobs/([\w.-]+)/({'|'.join(ACTIONS)})", JobAction, None),
    (r"/api/jobs/([\w.-]+)/report", JobReport, "api_job_report"),
]
