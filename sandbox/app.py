"""Wiring: one aiohttp Application serving every vendor plugin and /_sandbox/."""

from __future__ import annotations

from typing import Sequence

from aiohttp import web

from . import admin, ringostat
from . import ringostat_minicrm, salesscriptprompter
from . import obzvonilka
from . import pozvonim
from .config import SandboxConfig
from .state import STATE, SandboxState
from .vendor import VendorPlugin

# A new vendor is a sibling module exposing PLUGIN, listed here.
VENDORS: tuple[VendorPlugin, ...] = (ringostat.PLUGIN, ringostat_minicrm.PLUGIN, salesscriptprompter.PLUGIN,
                                      obzvonilka.PLUGIN, pozvonim.PLUGIN)


def make_app(
    config: SandboxConfig | None = None, vendors: Sequence[VendorPlugin] = VENDORS
) -> web.Application:
    names = [plugin.name for plugin in vendors]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate vendor plugin names: {names}")
    app = web.Application(middlewares=[in_flight])
    app[STATE] = SandboxState(config or SandboxConfig())
    for plugin in vendors:
        app.router.add_routes(plugin.routes)
    app.router.add_routes(admin.routes(vendors))
    return app


@web.middleware
async def in_flight(request: web.Request, handler):
    """Count the vendor requests answered at once (stats in_flight_max): a client's concurrency, seen here."""
    if request.path.startswith("/_sandbox/"):
        return await handler(request)
    stats = request.app[STATE].stats
    stats.in_flight += 1
    stats.in_flight_max = max(stats.in_flight_max, stats.in_flight)
    try:
        return await handler(request)
    finally:
        stats.in_flight -= 1
