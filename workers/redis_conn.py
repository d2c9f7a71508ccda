"""One Redis client per process for telequeue's own keys (limiter, jobs)."""

from __future__ import annotations

import os
from functools import lru_cache

import redis

from workers.keys import Keys
from workers.settings import get_settings


@lru_cache(maxsize=4)
def _client(url: str, pid: int) -> redis.Redis:
    # pid in the cache key: a forked worker child must not share its parent's sockets.
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


def get_redis() -> redis.Redis:
    return _client(get_settings().redis_url, os.getpid())


def get_keys() -> Keys:
    return Keys(get_settings().key_prefix)
