"""What every Jobs tab handler shares: Flower's handler, its credentials, CSRF checks,
one-line JSON errors, and the job machinery reached off the event loop."""

from __future__ import annotations

import functools

from flower.views import BaseHandler
from tornado import web
from tornado.ioloop import IOLoop

from workers.flower.guard import CsrfChecked, Guarded, require_user_or_login
from workers.flower.rates import RateTracker
from workers.flower.snapshot import Snapshots
from workers.redis.connection import get_keys, get_redis
from workers.settings import get_settings

#: one per Flower process: the history the pages draw
RATES = RateTracker()


class JobsHandler(CsrfChecked, Guarded, BaseHandler):
    def snapshots(self) -> Snapshots:
        return Snapshots(get_redis(), get_keys(), get_settings(), RATES)

    async def off_loop(self, fn, *args, **kwargs):
        """Run blocking Redis work in Flower's thread pool: the event loop keeps answering."""
        return await IOLoop.current().run_in_executor(None, functools.partial(fn, *args, **kwargs))


class ApiHandler(JobsHandler):
    """JSON in and out; errors as {"error": "one line"}; with OAuth, 401 instead of a redirect."""

    def prepare(self):
        require_user_or_login(self)

    def write_error(self, status_code: int, **kwargs) -> None:
        if status_code == 401:
            return super().write_error(status_code, **kwargs)
        exc = kwargs.get("exc_info", (None, None))[1]
        message = exc.log_message % exc.args if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish({"error": message})

    def fail(self, status: int, message: str):
        """Answer `status` with {"error": message}; message is one line, shown to the caller."""
        # HTTPError %-formats its message (for the log line too): a literal % is written %%.
        raise web.HTTPError(status, " ".join(message.split()).replace("%", "%%"))
