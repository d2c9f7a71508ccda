"""One Redis client per process for telequeue's own keys (limiter, jobs), riding out outages.

A Redis restart or failover is waited out: every command is retried, with jittered
exponential backoff (0.1 s doubling to 2 s), for up to `redis_outage_s` (60 s) since Redis
stopped answering, and a line says so: "waiting for Redis at URL ..." then "Redis is back
after N s" (a log line in workers and apps, a console line in the CLI: set_reporter). A
process that has never reached Redis fails at once: a wrong URL is not an outage.

A retried command may have run already (Redis died after running it, before replying), so
every script a retry can repeat must be safe to run twice; workers.jobs.store.COUNT is, by batch
number. The broker side is kombu's publish retry policy (celery_publish_retry_policy).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff, ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from workers.redis.keys import Keys
from workers.settings import get_settings

log = logging.getLogger(__name__)
#: seconds between two "waiting for Redis" lines of one outage
REPORT_EVERY_S = 5.0
#: the broker's publish retries sleep 0, 1, 2, 2, ... s: this many cover `redis_outage_s`
PUBLISH_INTERVAL_MAX_S = 2.0


def _log_line(message: str) -> None:
    log.warning(message)


_reporter: Callable[[str], None] = _log_line


def set_reporter(report: Callable[[str], None]) -> None:
    """Where "waiting for Redis" lines go (the CLI prints them on its console)."""
    global _reporter
    _reporter = report


class _Outage:
    """The process's view of Redis: reached yet, and since when it has stopped answering.

    An outage starts at a failure that follows none in the last GAP_S, and ends when a call
    that failed gets through (a call that merely found a socket open proves nothing)."""

    GAP_S = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reached = False
        self.since: float | None = None
        self._failed_at = 0.0
        self._reported_at = 0.0

    def answered(self, after_failures: bool) -> None:
        if self.reached and not (after_failures and self.since is not None):
            return
        with self._lock:
            self.reached = True
            since = self.since if after_failures else None
            if after_failures:
                self.since = None
        if since is not None:
            _reporter(f"Redis is back after {time.monotonic() - since:.1f} s")

    def failed(self, url: str, error: Exception, budget_s: float) -> float | None:
        """Seconds Redis has been down, None when this process never reached it."""
        now = time.monotonic()
        with self._lock:
            if not self.reached:
                return None
            if self.since is None or now - self._failed_at > self.GAP_S:
                self.since = now
                self._reported_at = 0.0
            self._failed_at = now
            down_s = now - self.since
            report = now - self._reported_at >= REPORT_EVERY_S
            if report:
                self._reported_at = now
        if report and down_s < budget_s:
            _reporter(f"waiting for Redis at {safe_url(url)}: {error} (down {down_s:.0f} s; "
                      f"giving up after {budget_s:.0f} s)")
        return down_s


OUTAGE = _Outage()


class OutageRetry(Retry):
    """redis-py's Retry, bounded by time since Redis stopped answering rather than by count."""

    def __init__(self, url: str, budget_s: float) -> None:
        super().__init__(ExponentialWithJitterBackoff(base=0.1, cap=2.0), retries=-1,
                         supported_errors=(ConnectionError, TimeoutError, socket.timeout, ReadOnlyError))
        self._url = url
        self._budget_s = budget_s

    def call_with_retry(self, do, fail, is_retryable=None, with_failure_count: bool = False):
        self._backoff.reset()
        failures = 0
        while True:
            try:
                result = do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                fail(error, failures) if with_failure_count else fail(error)
                down_s = OUTAGE.failed(self._url, error, self._budget_s)
                if down_s is None or down_s >= self._budget_s:
                    raise
                time.sleep(min(self._backoff.compute(failures), self._budget_s - down_s))
            else:
                OUTAGE.answered(after_failures=failures > 0)
                return result


SENTINEL_SCHEME = "sentinel://"
#: a command that meets the failed master retries for about this long (backoff capped at 1 s):
#: longer than the Sentinels take to agree and promote a replica (down-after-milliseconds + election)
FAILOVER_RIDE_S = 30


@lru_cache(maxsize=4)
def _client(url: str, pid: int) -> redis.Redis:
    # pid in the cache key: a forked worker child must not share its parent's sockets.
    if url.startswith(SENTINEL_SCHEME):
        return sentinel_client(url, get_settings().redis_sentinel_master)
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30,
                                retry=OutageRetry(url, get_settings().redis_outage_s))


def client_for(url: str) -> redis.Redis:
    """This process's client of `url`, plain or Sentinel (for a Redis other than settings.redis_url)."""
    return _client(url, os.getpid())


def sentinel_client(url: str, master_name: str, *, socket_timeout: float = 10, socket_connect_timeout: float = 5,
                    retry: Retry | None = None) -> redis.Redis:
    """The master the Sentinels of `url` name, found again after a failover.

    `url` has kombu's form, so broker and telequeue share one setting:
    `sentinel://[:password@]host:26379;sentinel://host2:26379/db`; the password is the master's
    (the Sentinels themselves get none). Each new connection asks the Sentinels where the master
    is; a command that meets the old one retries with backoff until one is promoted."""
    sentinels, password, username, db = [], None, None, 0
    for part in url.split(";"):
        parts = urlsplit(part.strip())
        sentinels.append((parts.hostname or "localhost", parts.port or 26379))
        password = password or (unquote(parts.password) if parts.password else None)
        username = username or (unquote(parts.username) if parts.username else None)
        if parts.path.strip("/"):
            db = int(parts.path.strip("/"))
    retry = retry or Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=FAILOVER_RIDE_S + 5)
    return Sentinel(sentinels, socket_timeout=min(5, socket_timeout), socket_connect_timeout=2).master_for(
        master_name, db=db, password=password, username=username, socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout, health_check_interval=30, retry=retry,
        retry_on_error=[ConnectionError, TimeoutError])


def get_redis() -> redis.Redis:
    return _client(get_settings().redis_url, os.getpid())


def get_keys() -> Keys:
    return Keys(get_settings().key_prefix)


def safe_url(url: str) -> str:
    """A URL without its password, for a message."""
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def celery_publish_retry_policy(outage_s: float, broker_url: str) -> dict:
    """kombu's publish retry policy that waits out about `outage_s` of the broker being away,
    saying so like the Redis client does."""
    reported_at = [0.0]

    def waiting(exc: Exception, interval_s: float) -> None:
        if time.monotonic() - reported_at[0] >= REPORT_EVERY_S:
            reported_at[0] = time.monotonic()
            _reporter(f"waiting for the broker at {safe_url(broker_url)}: {exc} (retrying for up to {outage_s:.0f} s)")

    return {"max_retries": int(outage_s / PUBLISH_INTERVAL_MAX_S) + 2, "interval_start": 0, "interval_step": 1,
            "interval_max": PUBLISH_INTERVAL_MAX_S, "errback": waiting}
