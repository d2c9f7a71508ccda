"""The Jobs tab's pages: /jobs (every recent job) and /jobs/JOB (one job).

Both render a frame from workers/flower/templates/ inside Flower's own layout; the
numbers come from the JSON API (workers.flower.api), polled every 2 s by the page's
script, so they move without a reload.
"""

from __future__ import annotations

from tornado import web

from workers.flower.base import JobsHandler
from workers.jobs.store import JobNotFound, JobStore
from workers.redis.connection import get_keys, get_redis


class JobsPage(JobsHandler):
    @web.authenticated
    async def get(self) -> None:
        self.render("jobs.html", active_tab="jobs")


class JobPage(JobsHandler):
    @web.authenticated
    async def get(self, job_id: str) -> None:
        try:
            status = await self.off_loop(JobStore(get_redis(), get_keys()).status, job_id)
        except JobNotFound:
            raise web.HTTPError(404, f"No job {job_id!r}") from None
        self.render("job.html", active_tab="jobs", job=status)


ROUTES = [
    (r"/jobs", JobsPage, "jobs"),
    (r"/jobs/([\w.-]+)", JobPage, "job"),
]
