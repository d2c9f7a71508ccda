"""Pozvonim tokens in Redis, shared by every worker process, and a watch on how often they are fetched.

The vendor binds a token to the IP that asked for it and keeps one token per uid and IP: a new
fetch from an address revokes the token fetched before from that address. Workers the vendor
sees at one address must therefore share one token, and only one of them may ask for a new one
(a redis-py Lock on `<token key>:lock`).

Scope (settings `pozvonim.token_scope`, env TELEQUEUE_POZVONIM__TOKEN_SCOPE):
  - "account" (default): one token per account. Right whenever every worker leaves through one
    public address: a cloud NAT gateway, one node's SNAT, `docker compose --scale`, one host.
  - "egress": one token per account and egress IP, for workers with distinct public addresses.
    The egress IP is env TELEQUEUE_EGRESS_IP when set (the NAT's or proxy's public address),
    otherwise the local address the kernel routes to the vendor from (a UDP "connect", which
    sends nothing): wrong behind NAT, where every pod guesses its own private address.
A wrong scope costs no correctness (the vendor answers 401, the client fetches a new token) but
thrashes: workers revoke each other's tokens, each 401 burning a limiter slot. Every fetch is
therefore counted (FetchLog): a Prometheus counter, and a warning naming the fix when one token
is fetched more than THRASH_FETCHES_PER_HOUR times in an hour (a healthy one: once per ~4 h).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import urlsplit

import redis
from redis.exceptions import LockError

from vendors import deadline
from vendors.pozvonim import VENDOR, Token, TokenStoreBusy
from workers.redis.keys import Keys

log = logging.getLogger(__name__)

EGRESS_IP_ENV = "TELEQUEUE_EGRESS_IP"
SCOPE_ENV = "TELEQUEUE_POZVONIM__TOKEN_SCOPE"
#: a token kept for its 4 h is fetched once per ~3 h 50 min; more than this in an hour is thrashing
THRASH_FETCHES_PER_HOUR = 4
FETCH_WINDOW_S = 3600.0
#: under thrashing every fetch would warn: one warning per process per this long is enough
WARN_EVERY_S = 60.0
UNKNOWN_IP = "unknown"
#: a holder that died frees the lock after this; longer than one token request (connect + read timeouts)
LOCK_TIMEOUT_S = 30.0
#: how long a worker waits for another one's fetch before giving up (the task then retries)
LOCK_WAIT_S = 20.0


class RedisTokenStore:
    """vendors.pozvonim.TokenStore on Redis."""

    def __init__(self, client: redis.Redis, key: str, *, lock_timeout_s: float = LOCK_TIMEOUT_S,
                 lock_wait_s: float = LOCK_WAIT_S, fetches: FetchLog | None = None) -> None:
        self._redis = client
        self.key = key
        self._fetches = fetches
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
        if self._fetches is not None:  # TokenProvider sets only what it has just fetched
            try:
                self._fetches.record()
            except redis.RedisError:  # counting is for operators: never fail the token over it
                log.warning("pozvonim token fetch not counted (Redis error)", exc_info=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        # Never past the deadline of the calls being made (a single operation's lease bounds it)
        left_s = deadline.left_s()
        wait_s = self._lock_wait_s if left_s is None else max(0.0, min(self._lock_wait_s, left_s))
        lock = self._redis.lock(f"{self.key}:lock", timeout=self._lock_timeout_s, blocking_timeout=wait_s)
        if not lock.acquire():
            raise TokenStoreBusy(f"token refresh still locked after {wait_s:.0f} s", vendor=VENDOR)
        try:
            yield
        finally:
            try:
                lock.release()
            except LockError:
                pass  # it timed out meanwhile and may be someone else's now: nothing of ours to release


class FetchLog:
    """Token fetches of one account: a total for Prometheus, and the last hour's to spot thrashing.

    `egress` is None in the "account" scope; in the "egress" scope each address has its own
    token, so the last hour is counted per address."""

    def __init__(self, client: redis.Redis, keys: Keys, account: str, *, egress: str | None = None,
                 clock=time.time) -> None:
        self._redis = client
        self._keys = keys
        self.account = account
        self.egress = egress
        self._clock = clock

    def record(self) -> int:
        """Count one fetch; the fetches of this token in the last hour, this one included."""
        now = self._clock()
        key = self._keys.pozvonim_token_fetches(self.account)
        member = f"{self.egress or '*'} {now:.6f} {os.getpid()}"
        pipe = self._redis.pipeline()
        pipe.zadd(key, {member: now})
        pipe.zremrangebyscore(key, "-inf", now - FETCH_WINDOW_S)
        pipe.zrange(key, 0, -1)
        pipe.expire(key, int(FETCH_WINDOW_S) + 60)
        pipe.hincrby(self._keys.pozvonim_token_fetch_totals(), self.account, 1)
        recent = pipe.execute()[2]
        count = sum(1 for m in recent if m.decode().split(" ", 1)[0] == (self.egress or "*"))
        if count > THRASH_FETCHES_PER_HOUR:
            _warn_thrashing(self.account, self.egress, count)
        return count


_last_warned_s: dict[tuple[str, str | None], float] = {}


def _warn_thrashing(account: str, egress: str | None, count: int) -> None:
    now = time.monotonic()
    if now - _last_warned_s.get((account, egress), -WARN_EVERY_S) < WARN_EVERY_S:
        return
    _last_warned_s[(account, egress)] = now
    if egress is None:
        fix = (f"its workers leave through more than one public address, and each address revokes the "
               f"others' token: set {SCOPE_ENV}=egress (and {EGRESS_IP_ENV} to each group's public "
               f"address where the route guess is wrong)")
    else:
        fix = (f"workers that guess different egress addresses reach the vendor through one NAT address "
               f"and revoke each other's token: set {SCOPE_ENV}=account (every worker behind one NAT), "
               f"or {EGRESS_IP_ENV} to the NAT's public address")
    where = "" if egress is None else f" on egress {egress}"
    log.warning("pozvonim account %r fetched %d tokens in the last hour%s (healthy: 1 per 4 h): %s",
                account, count, where, fix)


def token_store(client: redis.Redis, keys: Keys, account: str, *, scope: str, base_url: str) -> RedisTokenStore:
    """The shared store of one account's token in the configured scope (see the module docstring)."""
    if scope not in ("account", "egress"):
        raise ValueError(f"pozvonim token scope must be 'account' or 'egress', not {scope!r}")
    egress = egress_ip(base_url) if scope == "egress" else None
    return RedisTokenStore(client, keys.pozvonim_token(account, egress),
                           fetches=FetchLog(client, keys, account, egress=egress))


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


__all__ = ["EGRESS_IP_ENV", "SCOPE_ENV", "THRASH_FETCHES_PER_HOUR", "FetchLog", "RedisTokenStore", "egress_ip",
           "token_store"]
