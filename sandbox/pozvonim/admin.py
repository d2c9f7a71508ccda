"""Test endpoints of the Pozvonim emulator, and a small client for them.

    GET/POST /_sandbox/pozvonim/config   {"accounts": {uid: api_key | null}, "token_ttl_s": n}
    POST     /_sandbox/pozvonim/tokens/expire   every issued token expires now
    POST     /_sandbox/pozvonim/reset           forget data and tokens (config stays)

Recorded rows are under the shared /_sandbox/pozvonim/rows (filters: kind, uid, site, contributor).
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from ..client import SandboxControl
from ..config import MASK
from ..state import STATE
from ..vendor import JSON_TYPE, json_bytes
from .store import PozvonimConfig, pozvonim_state

PREFIX = "/_sandbox/pozvonim"


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=json_bytes(payload), status=status, content_type=JSON_TYPE)


def config_json(config: PozvonimConfig) -> dict[str, Any]:
    return {"accounts": {uid: MASK for uid in config.accounts}, "token_ttl_s": config.token_ttl_s}


def merge(config: PozvonimConfig, update: Any) -> None:
    """Validate the whole update, then apply it; `null` for a uid removes that account."""
    if not isinstance(update, dict) or set(update) - {"accounts", "token_ttl_s"}:
        raise ValueError("config is an object with accounts and/or token_ttl_s")
    accounts = update.get("accounts", {})
    ttl_s = update.get("token_ttl_s", config.token_ttl_s)
    if not isinstance(accounts, dict) or not all(v is None or (isinstance(v, str) and v) for v in accounts.values()):
        raise ValueError("accounts must map uid to a non-empty api key or null")
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, (int, float)) or not math.isfinite(ttl_s) or ttl_s <= 0:
        raise ValueError("token_ttl_s must be a positive number")
    for uid, key in accounts.items():
        if key is None:
            config.accounts.pop(str(uid), None)
        else:
            config.accounts[str(uid)] = key
    config.token_ttl_s = float(ttl_s)


async def get_config(request: web.Request) -> web.Response:
    return _json(config_json(pozvonim_state(request.app[STATE]).config))


async def post_config(request: web.Request) -> web.Response:
    ps = pozvonim_state(request.app[STATE])
    try:
        merge(ps.config, json.loads(await request.read() or b"{}"))
    except ValueError as exc:
        return _json({"ok": False, "error": str(exc)}, 400)
    return _json(config_json(ps.config))


async def expire_tokens(request: web.Request) -> web.Response:
    tokens = pozvonim_state(request.app[STATE]).tokens
    for token in tokens.values():
        token.expires_at_s = 0.0
    return _json({"expired": len(tokens)})


async def reset(request: web.Request) -> web.Response:
    ps = pozvonim_state(request.app[STATE])
    ps.reset_data()
    ps.tokens.clear()
    return _json({"ok": True})


ROUTES = [
    web.get(f"{PREFIX}/config", get_config),
    web.post(f"{PREFIX}/config", post_config),
    web.post(f"{PREFIX}/tokens/expire", expire_tokens),
    web.post(f"{PREFIX}/reset", reset),
]


def configure(url: str, **update: Any) -> dict[str, Any]:
    """One-shot configure, e.g. configure(sandbox.url, accounts={"1001": key})."""
    control = PozvonimControl(url)
    try:
        return control.configure(**update)
    finally:
        control.close()


class PozvonimControl:
    """The endpoints above from a test or the dev stack: PozvonimControl(sandbox.url).configure(...)."""

    def __init__(self, url: str) -> None:
        self._control = SandboxControl(url)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._control._call(method, f"pozvonim/{path}", **kwargs)

    def configure(self, **update: Any) -> dict[str, Any]:
        """e.g. configure(accounts={"1001": key}, token_ttl_s=2): returns the config, keys masked."""
        return self._call("POST", "config", json=update)

    def expire_tokens(self) -> int:
        return self._call("POST", "tokens/expire")["expired"]

    def reset(self) -> None:
        self._call("POST", "reset")

    def rows(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded rows, oldest first; filters: kind, uid, site, contributor."""
        return self._control.rows(vendor="pozvonim", **filters)

    def stats(self) -> dict[str, Any]:
        return self._control.stats()

    def close(self) -> None:
        self._control.close()
