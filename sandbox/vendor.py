"""What every emulated vendor shares: the plugin shape and the request pipeline.

A vendor module builds a `VendorPlugin` (its routes and how its recorded rows
are filtered) and its handlers follow one order, so faults mean the same thing
for every vendor:

    auth (vendor's own) -> `arrive`: admit (rate limit, 5xx fault), then latency
            -> validation (vendor's own) -> accept (record, then maybe hang)

Auth and admission are decided when a request arrives and answered after the latency: a
vendor's gateway throttles requests as they reach it. Deciding after the latency would judge
the order in which the sandbox's timers fire, which bunches under load.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Sequence

from aiohttp import web

from .faults import ERROR_MESSAGES
from .ratelimit import retry_after_header
from .state import Row, SandboxState

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class VendorPlugin:
    name: str  # URL prefix ("/ringostat/...") and the key of its recorded rows
    routes: Sequence[web.RouteDef]
    # Query parameter of GET /_sandbox/<name>/rows -> row field it filters on.
    row_filters: Mapping[str, str] = field(default_factory=dict)


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(message: str) -> bytes:
    return json_bytes({"result": False, "error": message})


@dataclass(frozen=True)
class ErrorBodies:
    """A vendor's wording of the refusals every vendor shares: over its rate limit, and the 5xx faults."""

    too_many: bytes
    server_errors: Mapping[int, bytes]  # by status


# Built once: these are the hot answers under load. The default, in the Ringostat shape.
ERROR_BODIES = ErrorBodies(error_body("Too many requests"),
                           {status: error_body(msg) for status, msg in ERROR_MESSAGES.items()})


def reply(
    state: SandboxState, status: int, body: bytes | None, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Every vendor answer goes through here, so the stats see each one. No body: no content type."""
    state.count(status)
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(body=body, status=status, content_type=JSON_TYPE, headers=headers)


def admit(state: SandboxState, account: str, bodies: ErrorBodies = ERROR_BODIES) -> web.Response | None:
    """Vendor-side throttling and 5xx faults; an answer here means nothing was applied."""
    wait_s = state.limiter.check(account)
    if wait_s is not None:
        return reply(state, 429, bodies.too_many, {"Retry-After": retry_after_header(wait_s)})
    status = state.faults.error_status()
    if status is not None:
        return reply(state, status, bodies.server_errors[status])
    return None


async def arrive(
    state: SandboxState, caller: str | web.Response, bodies: ErrorBodies = ERROR_BODIES
) -> web.Response | None:
    """The start every vendor handler shares: decide on arrival, sleep the latency, then answer.

    `caller` is what the vendor's own auth made of the request: its rate-limit account, or the
    refusal to answer. An account is admitted (429, 5xx, worded as `bodies`) now, as the request
    arrives; then the configured latency passes. Returns the refusal, or None: go on.
    """
    refused = caller if isinstance(caller, web.Response) else admit(state, caller, bodies)
    await state.faults.delay()
    return refused


async def accept(
    state: SandboxState, vendor: str, identity: Hashable, row: Row, body: bytes | None, *, status: int = 200,
    bodies: ErrorBodies = ERROR_BODIES,
) -> web.Response:
    """Record the row as applied, then answer `status`, late if a hang was drawn (or 502, worded as `bodies`)."""
    state.record(vendor, identity, row)
    fault = state.faults.after_apply()
    if fault == "502":
        return reply(state, 502, bodies.server_errors[502])
    hang_s = state.config.hang_s if fault == "hang" else state.faults.hang_s()
    response = reply(state, status, body)
    if hang_s > 0:
        # Counted before sleeping so stats are right while the client is still waiting.
        state.stats.hangs += 1
        await asyncio.sleep(hang_s)
    return response
