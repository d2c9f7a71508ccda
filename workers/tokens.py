"""Pozvonim tokens in Redis: one per (account, egress IP), shared by every worker process.

The vendor binds a token to the IP that asked for it and keeps one token per uid and IP, so
workers leaving through the same address must share one token, and only one of them may ask
for a new one (a redis-py Lock on `<token key>:lock`); workers on another address get their own.

Egress IP, in this order:
  1. env TELEQUEUE_EGRESS_IP: set it when traffic leaves through NAT or a proxy whose public
     address differs from the host's own (hosts behind one NAT then share one token);
  2. otherwise the local address the kernel routes to the vendor host from (a UDP "connect",
     which sends nothing), cached per process.
A wrong guess costs no correctness: the vendor answers 401 and the client fetches a new token.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import urlsplit

import redis
from redis.exceptions import LockError

from vendors.pozvonim import VENDOR, Token, TokenStoreBusy

EGRESS_IP_ENV = "TELEQUEUE_EGRESS_IP"
UNKNOWN_IP = "unknown"
#: a holder that died frees the lock after this; longer than one token request (connect + read timeouts)
LOCK_TIMEOUT_S = 30.0
#: how long a worker waits for another one's fetch before giving up (the task then retries)
LOCK_WAIT_S = 20.0


class RedisTokenStore:
    """vendors.pozvonim.TokenStore on Redis."""

    def __init__(self, client: redis.Redis, key: str, *, lock_timeout_s: float = LOCK_TIMEOUT_S,
                 lock_wait_s: float = LOCK_WAIT_S) -> None:
        self._redis = client
        self.key = key
        self._lock_timeout_s = lock_timeout_s
        self._lock_wait_s = lock_wait_s

    def get(self) -> Token | None:
        raw = self._redis.get(self.key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Token(str(data["token"]), float(data["expires_at_s"]))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable (an older format?): fetching a new one repairs it

    def set(self, token: Token, ttl_s: float) -> None:
        value = json.dumps({"token": token.value, "expires_at_s": token.expires_at_s})
        self._redis.set(self.key, value, px=max(1, int(ttl_s * 1000)))

    @contextmanager
    def lock(self) -> Iterator[None]:
        lock = self._redis.lock(f"{self.key}:lock", timeout=self._lock_timeout_s,
                                blocking_timeout=self._lock_wait_s)
        if not lock.acquire():
            raise TokenStoreBusy(f"token refresh still locked after {self._lock_wait_s:.0f} s", vendor=VENDOR)
        try:
            yield
        finally:
            try:
                lock.release()
            except LockError:
                pass  # it timed out meanwhile and may be someone else's now: nothing of ours to release


def egress_ip(base_url: str) -> str:
    """The address the vendor sees our requests come from (see the module docstring)."""
    configured = os.environ.get(EGRESS_IP_ENV, "").strip()
    if configured:
        return configured
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _route_source(parts.hostname or "", port)


@lru_cache(maxsize=32)
def _route_source(host: str, port: int) -> str:
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(address)  # UDP: no packet leaves, the kernel only picks the route
            return sock.getsockname()[0]
    except (OSError, IndexError):
        return UNKNOWN_IP


__all__ = ["EGRESS_IP_ENV", "RedisTokenStore", "egress_ip"]
