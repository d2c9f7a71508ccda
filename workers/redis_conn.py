"""One Redis client per process for telequeue's own keys (limiter, jobs)."""

from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from workers.keys import Keys
from workers.settings import get_settings

SENTINEL_SCHEME = "sentinel://"
#: a command that meets the failed master retries for about this long (backoff capped at 1 s):
#: longer than the Sentinels take to agree and promote a replica (down-after-milliseconds + election)
FAILOVER_RIDE_S = 30


@lru_cache(maxsize=4)
def _client(url: str, pid: int) -> redis.Redis:
    # pid in the cache key: a forked worker child must not share its parent's sockets.
    if url.startswith(SENTINEL_SCHEME):
        return sentinel_client(url, get_settings().redis_sentinel_master)
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


def sentinel_client(url: str, master_name: str) -> redis.Redis:
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
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=FAILOVER_RIDE_S + 5)
    return Sentinel(sentinels, socket_timeout=5, socket_connect_timeout=2).master_for(
        master_name, db=db, password=password, username=username, socket_timeout=10, socket_connect_timeout=5,
        health_check_interval=30, retry=retry, retry_on_error=[ConnectionError, TimeoutError])


def get_redis() -> redis.Redis:
    return _client(get_settings().redis_url, os.getpid())


def get_keys() -> Keys:
    return Keys(get_settings().key_prefix)
