"""GET auth/token, and the check every other request passes.

Token:   uid + sign = md5(api_key . uid) -> a token valid token_ttl_s (4 h), bound to the
         caller's IP. The request never carries the token, so the vendor must know "the"
         token of a uid at an IP: a new one replaces the previous one from that IP.
Request: uid + sign = md5(token . http_build_query(ksort(params))) over every parameter but sign.

Statuses: 403 when a new token cannot help (unknown uid, wrong key, API disabled in the
profile); 401 when it can (no token from this IP, expired, or a sign that does not match the
current token, e.g. because another caller on this IP fetched a newer one).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timezone

from aiohttp import web

from ..state import STATE
from ..vendor import arrive, json_bytes, reply
from .query import Nested, expected_sign, pairs_of, parse_php
from .store import IssuedToken, PozvonimState, pozvonim_state
from .wire import ERROR_BODIES, ApiError, error_reply, new_row, render_time

TOKEN_PATH = "/auth/token"


def _refused(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


def _expired(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


def _caller(state, ps, request: web.Request) -> str | web.Response:
    """The uid asking for a token, or the refusal (for `arrive`: see sandbox/vendor.py)."""
    uid, sign = request.query.get("uid", ""), request.query.get("sign", "")
    key = ps.config.accounts.get(uid)
    expected = hashlib.md5(f"{key}{uid}".encode()).hexdigest() if key else ""
    if not key or not hmac.compare_digest(sign.lower(), expected):
        return error_reply(state, _refused("AUTH-KEY-INVALID", "uid or sign is wrong"))
    if not ps.account(uid).api_enable:
        return error_reply(state, _refused("AUTH-API-DISABLED", "API is disabled in the profile"))
    return uid


async def issue_token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    ps = pozvonim_state(state)
    refused = await arrive(state, _caller(state, ps, request), ERROR_BODIES)
    if refused is not None:
        return refused
    uid = request.query["uid"]
    ip = request.remote or ""
    token = IssuedToken(secrets.token_hex(16), time.time() + ps.config.token_ttl_s)
    ps.tokens[(uid, ip)] = token
    state.record("pozvonim", ("token", token.value), new_row("token", uid, ip=ip))
    expires = datetime.fromtimestamp(token.expires_at_s, timezone.utc)
    body = {"token": token.value, "expired_at": render_time(expires, ps.account(uid).timezone)}
    return reply(state, 200, json_bytes(body))


async def read_params(request: web.Request) -> Nested:
    """Query and (for writes) form body, parsed as PHP would."""
    pairs = list(request.query.items())
    if request.can_read_body:
        try:
            pairs += pairs_of((await request.read()).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "GEN-BAD-REQUEST", "body must be application/x-www-form-urlencoded UTF-8") from None
    return parse_php(pairs)


def authenticate(ps: PozvonimState, params: Nested, ip: str) -> str:
    """The uid whose token signed these params, or ApiError."""
    uid, sign = params.get("uid"), params.get("sign")
    if not isinstance(uid, str) or not isinstance(sign, str) or not uid or not sign:
        raise _expired("AUTH-REQUIRED", "uid and sign are required")
    if uid not in ps.config.accounts:
        raise _refused("AUTH-UID-UNKNOWN", "unknown uid")
    if not ps.account(uid).api_enable:
        raise _refused("AUTH-API-DISABLED", "API is disabled in the profile")
    token = ps.tokens.get((uid, ip))
    if token is None:
        elsewhere = any(owner == uid for owner, _ in ps.tokens)
        raise (_expired("AUTH-TOKEN-IP", "the token is bound to the IP address that requested it") if elsewhere
               else _expired("AUTH-TOKEN-MISSING", "request a token first (auth/token)"))
    if time.time() >= token.expires_at_s:
        raise _expired("AUTH-TOKEN-EXPIRED", "the token has expired")
    if not hmac.compare_digest(sign.lower(), expected_sign(token.value, params)):
        raise _expired("AUTH-SIGN-INVALID", "sign does not match the current token")
    return uid


__all__ = ["TOKEN_PATH", "authenticate", "issue_token", "read_params"]
