"""Signed requests to Pozvonim: token, signature, error mapping, one retry on a refused token.

Every request carries `uid` and `sign` besides its own parameters. Reads and deletes put them
in the query string, writes in an `application/x-www-form-urlencoded` body; either way the
parameters travel in the exact order they were signed in (see signing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from pydantic import BaseModel, SecretStr

from vendors import errors
from vendors.http import DEFAULT_TIMEOUT_S, body_of, send
from vendors.surprises import keys_of

from .auth import DEFAULT_REFRESH_MARGIN_S, TOKEN_TTL_S, TokenProvider, TokenStore
from .errors import VENDOR, TokenRejected, raise_for_status
from .methods import verb_of
from .signing import md5_hex, signed_query, token_sign

TOKEN_PATH = "auth/token"
FORM_TYPE = "application/x-www-form-urlencoded"
QUERY_METHODS = frozenset({"GET", "DELETE"})


class PozvonimCredentials(BaseModel):
    uid: str
    api_key: SecretStr


class Transport:
    def __init__(
        self,
        credentials: PozvonimCredentials,
        *,
        base_url: str,
        session: requests.Session,
        token_store: TokenStore,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        token_ttl_s: float = TOKEN_TTL_S,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
        all_post: bool = False,
    ) -> None:
        self._credentials = credentials
        self._all_post = all_post
        self._base_url = base_url.rstrip("/") + "/"
        self._session = session
        self._timeout_s = timeout_s
        self.tokens = TokenProvider(token_store, self._fetch_token, ttl_s=token_ttl_s,
                                    refresh_margin_s=refresh_margin_s)

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Send method `method` (a name in methods.METHODS) to `path` signed; the decoded body, or None (204)."""
        verb = verb_of(method, all_post=self._all_post)
        token = self._token(self.tokens.token)
        try:
            return self._signed(verb, path, params or {}, token)
        except TokenRejected:
            # Nothing was applied: the vendor refused the token before doing anything.
            token = self._token(lambda: self.tokens.refresh(rejected=token))
        return self._signed(verb, path, params or {}, token)  # a second refusal is final

    @staticmethod
    def _token(get: Any) -> str:
        """A token; a transient failure getting one means the operation itself was not sent."""
        try:
            return get()
        except (errors.OutcomeUnknown, errors.VendorServerError) as exc:
            # Not an unknown outcome of the operation: callers may retry it without reconciling.
            raise errors.VendorConnectionError(f"no token ({exc.message}); the request was not sent",
                                               vendor=VENDOR, status=exc.status, body=exc.body) from None

    def _signed(self, method: str, path: str, params: Mapping[str, Any], token: str) -> Any:
        query = signed_query({**params, "uid": self._credentials.uid})
        wire = f"{query}&sign={md5_hex(token + query)}"
        url = self._base_url + path.lstrip("/")
        if method in QUERY_METHODS:
            response = self._send(method, f"{url}?{wire}")
        else:
            response = self._send(method, url, data=wire.encode("ascii"), headers={"Content-Type": FORM_TYPE})
        raise_for_status(response)
        return body_of(response) if response.content else None

    def _fetch_token(self) -> str:
        uid = self._credentials.uid
        params = {"uid": uid, "sign": token_sign(self._credentials.api_key.get_secret_value(), uid)}
        try:
            response = self._send("GET", self._base_url + TOKEN_PATH, params=params)
        except errors.VendorError as exc:
            # The transport's message quotes the URL, whose sign works as long as the key does.
            raise type(exc)(f"{TOKEN_PATH}: {type(exc).__name__}", vendor=VENDOR) from None
        try:
            raise_for_status(response)
        except TokenRejected as exc:  # refused at the token endpoint itself: a new token will not help
            raise errors.AuthError(exc.message, vendor=VENDOR, status=exc.status, body=exc.body) from None
        body = body_of(response)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            # Names the keys seen, never their values: a token reply is a secret.
            raise errors.VendorRejected(f"{TOKEN_PATH}: no 'token' in the answer (keys seen: {keys_of(body)})",
                                        vendor=VENDOR, status=response.status_code)
        return token

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return send(self._session, VENDOR, method, url, timeout_s=self._timeout_s, **kwargs)


__all__ = ["PozvonimCredentials", "Transport"]
