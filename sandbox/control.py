"""Test/ops endpoints under /_sandbox/: health, stats, recorded rows, config, reset.

They are not vendor traffic, so they bypass latency, faults and the stats.
"""

from __future__ import annotations

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


def routes(plugins: Sequence[VendorPlugin]) -> list[web.RouteDef]:
    table = [
        web.get(f"{PREFIX}/health", health),
        web.get(f"{PREFIX}/stats", stats),
        web.get(f"{PREFIX}/config", get_config),
        web.post(f"{PREFIX}/config", post_config),
        web.post(f"{PREFIX}/reset", reset),
    ]
    table += [web.get(f"{PREFIX}/{plugin.name}/rows", rows_handler(plugin)) for plugin in plugins]
    return table
