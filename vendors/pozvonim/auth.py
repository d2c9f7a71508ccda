"""Pozvonim tokens: where they are cached and when a new one is fetched.

A token is valid 4 hours and bound to the IP that asked for it; the vendor keeps one token
per uid and IP, so fetching a new one may make the previous one useless. Every client of the
same account on the same egress IP must therefore share one cached token, and only one of
them may fetch at a time: the `TokenStore` protocol gives exactly that (a Redis store lives
in workers/runtime/tokens.py; `MemoryTokenStore` serves one process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from vendors import errors

#: "токен будет действителен 4 часа"
TOKEN_TTL_S = 4 * 3600.0
DEFAULT_REFRESH_MARGIN_S = 600.0


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    #: Unix time (wall clock: shared by every host) after which the vendor refuses it
    expires_at_s: float

    def fresh(self, now_s: float, margin_s: float) -> bool:
        return now_s < self.expires_at_s - margin_s


class TokenStoreBusy(errors.TransientVendorError):
    """Another worker held the token lock too long: try the operation again later."""


class TokenStore(Protocol):
    """One account's token on one egress IP, shared by every client that uses that pair."""

    def get(self) -> Token | None:
        """The cached token, or None."""

    def set(self, token: Token, ttl_s: float) -> None:
        """Cache `token`, forgotten after `ttl_s` seconds."""

    def lock(self) -> AbstractContextManager[object]:
        """Held while fetching, so that one fetch serves everybody; raises TokenStoreBusy on timeout."""


class MemoryTokenStore:
    """A process-local TokenStore (tests, scripts, a single worker process)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._token: Token | None = None
        self._forget_at_s = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    def get(self) -> Token | None:
        return self._token if self._token and self._clock() < self._forget_at_s else None

    def set(self, token: Token, ttl_s: float) -> None:
        self._token, self._forget_at_s = token, self._clock() + ttl_s

    def lock(self) -> AbstractContextManager[object]:
        return self._lock


class TokenProvider:
    """Hands out a fresh token: from the store, else fetched once under the store's lock."""

    def __init__(
        self,
        store: TokenStore,
        fetch: Callable[[], str],
        *,
        ttl_s: float = TOKEN_TTL_S,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if refresh_margin_s >= ttl_s:
            raise ValueError(f"refresh_margin_s ({refresh_margin_s}) must be below the token ttl_s ({ttl_s})")
        self._store = store
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._margin_s = refresh_margin_s
        self._clock = clock

    def token(self) -> str:
        """A token that stays valid for at least the refresh margin."""
        cached = self._store.get()
        if cached and cached.fresh(self._clock(), self._margin_s):
            return cached.value
        try:
            with self._store.lock():
                cached = self._store.get()  # whoever held the lock before us may have fetched already
                if cached and cached.fresh(self._clock(), self._margin_s):
                    return cached.value
                return self._renew()
        except TokenStoreBusy:
            if cached and cached.fresh(self._clock(), 0.0):  # early refresh stuck elsewhere: still usable
                return cached.value
            raise

    def refresh(self, rejected: str) -> str:
        """After the vendor refused `rejected`: a newer cached token, or a new one."""
        with self._store.lock():
            cached = self._store.get()
            if cached and cached.value != rejected and cached.fresh(self._clock(), self._margin_s):
                return cached.value
            return self._renew()

    def _renew(self) -> str:
        # Lifetime counted from before the request: never later than the vendor's own clock.
        asked_at_s = self._clock()
        token = Token(self._fetch(), asked_at_s + self._ttl_s)
        self._store.set(token, ttl_s=max(1.0, token.expires_at_s - self._clock()))
        return token.value


__all__ = ["TOKEN_TTL_S", "MemoryTokenStore", "Token", "TokenProvider", "TokenStore", "TokenStoreBusy"]
