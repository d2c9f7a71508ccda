"""The sandbox's own admin API under /_sandbox/ (tests, ops): health, stats, recorded rows, config, reset.

They are not vendor traffic, so they bypass latency, faults and the stats.
"""

from __future__ import annotations

import asyncio
import json
from typing import Mapping, Sequence

from aiohttp import web

from .config import ConfigError
from .state import STATE
from .vendor import JSON_TYPE, VendorPlugin, json_bytes

PREFIX = "/_sandbox"
HEALTH_BODY = json_bytes({"ok": True})


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=json_bytes(payload), status=status, content_type=JSON_TYPE)


async def health(request: web.Request) -> web.Response:
    return web.Response(body=HEALTH_BODY, content_type=JSON_TYPE)


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE].stats.to_json())


async def get_config(request: web.Request) -> web.Response:
    return _json(request.app[STATE].config.to_json())


async def post_config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        state.configure(json.loads(await request.read() or b"{}"))
    except ValueError as exc:  # ConfigError, or a body that is not JSON
        message = str(exc) if isinstance(exc, ConfigError) else "body must be a JSON object"
        return _json({"ok": False, "error": message}, status=400)
    return _json(state.config.to_json())


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return _json({"ok": True})


def rows_handler(plugin: VendorPlugin):
    """GET /_sandbox/<vendor>/rows?<filter>=value...: that vendor's accepted rows, in order."""
    filters: Mapping[str, str] = plugin.row_filters

    async def rows(request: web.Request) -> web.Response:
        wanted = [(filters[param], value) for param, value in request.query.items() if param in filters]
        unknown = sorted(set(request.query) - set(filters))
        if unknown:
            return _json({"ok": False, "error": f"unknown filters {unknown}; known: {sorted(filters)}"}, 400)
        found = request.app[STATE].log.rows.get(plugin.name, [])
        # Query values are strings; compare as strings so campaign=456 matches the int 456.
        selected = [row for row in found if all(str(row[field]) == value for field, value in wanted)]
        return _json({"rows": selected})

    return rows


async def trickle(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/trickle?bytes=N&interval_s=S[&head=1]: a vendor that answers one byte
    every S seconds, in the body (head=0) or already in the status line (head=1), which a
    per-read timeout never ends. A client's total deadline must."""
    try:
        count = int(request.query.get("bytes", "30"))
        interval_s = float(request.query.get("interval_s", "1"))
    except ValueError:
        return _json({"ok": False, "error": "bytes and interval_s must be numbers"}, 400)
    if request.query.get("head") == "1":
        transport = request.transport
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        for byte in head[:count]:
            if transport is None or transport.is_closing():
                break
            transport.write(bytes([byte]))
            await asyncio.sleep(interval_s)
        if transport is not None:
            transport.close()
        raise web.HTTPGone()  # the connection is closed: aiohttp has nothing left to write
    response = web.StreamResponse(headers={"Content-Length": str(count), "Content-Type": "text/plain"})
    await response.prepare(request)
    for _ in range(count):
        await asyncio.sleep(interval_s)
        try:
            await response.write(b".")
        except ConnectionError:
            break
    return response


def routes(plugins: Sequence[VendorPlugin]) -> list[web.RouteDef]:
    table = [
        web.get(f"{PREFIX}/health", health),
        web.get(f"{PREFIX}/stats", stats),
        web.get(f"{PREFIX}/config", get_config),
        web.post(f"{PREFIX}/config", post_config),
        web.post(f"{PREFIX}/reset", reset),
        web.get(f"{PREFIX}/trickle", trickle),
    ]
    table += [web.get(f"{PREFIX}/{plugin.name}/rows", rows_handler(plugin)) for plugin in plugins]
    return table
