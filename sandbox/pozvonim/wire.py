"""Pozvonim's answer formats: errors, DATETIME strings, and the shared pipeline in its dialect.

Errors always look like the doc's example:
    {"error": {"code": "GEN-SERVER-ERROR", "http_code": 502, "message": "Oops something wrong!"}}
so the shared `arrive` and `accept` answer their refusals with Pozvonim's ERROR_BODIES, and
`accept` with the status an operation answers (201, 202, 204).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Hashable
from zoneinfo import ZoneInfo

from aiohttp import web

from ..faults import ERROR_MESSAGES
from ..state import Row, SandboxState
from ..vendor import ErrorBodies, accept, json_bytes, reply

VENDOR = "pozvonim"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class ApiError(Exception):
    """Answered as the doc's error structure."""

    def __init__(self, http_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_code, self.code, self.message = http_code, code, message


def not_found(what: str, ident: Any) -> ApiError:
    return ApiError(404, "GEN-NOT-FOUND", f"{what} {ident} not found")


def invalid(message: str) -> ApiError:
    return ApiError(400, "GEN-VALIDATION", message)


@dataclass
class Answer:
    """A handler's result: JSON body (None: empty), and the row to record if something was applied."""

    status: int
    body: Any = None
    row: Row | None = None
    identity: Hashable = None


def new_row(kind: str, uid: str, **fields: Any) -> Row:
    """A recorded row, as tests see it under /_sandbox/pozvonim/rows: every filtered field present."""
    return {"kind": kind, "uid": uid, "site_id": None, "contributor_id": None, **fields, "t": time.time()}


def error_body(http_code: int, code: str, message: str) -> bytes:
    return json_bytes({"error": {"code": code, "http_code": http_code, "message": message}})


def error_reply(state: SandboxState, exc: ApiError) -> web.Response:
    return reply(state, exc.http_code, error_body(exc.http_code, exc.code, exc.message))


#: the shared limiter's and faults' refusals (vendor.arrive) in Pozvonim's format
ERROR_BODIES = ErrorBodies(
    error_body(429, "GEN-TOO-MANY-REQUESTS", "Too many requests"),
    {status: error_body(status, "GEN-SERVER-ERROR", text) for status, text in ERROR_MESSAGES.items()},
)


async def respond(state: SandboxState, answer: Answer) -> web.Response:
    """An applied change goes through vendor.accept (recorded first, the answer maybe late or a 502)."""
    body = None if answer.body is None else json_bytes(answer.body)
    if answer.row is None:
        return reply(state, answer.status, body)
    return await accept(state, VENDOR, answer.identity, answer.row, body, status=answer.status, bodies=ERROR_BODIES)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def render_time(moment: datetime | None, tz_name: str) -> str | None:
    """DATETIME in the profile's time zone, as the doc prescribes for every time."""
    return None if moment is None else moment.astimezone(ZoneInfo(tz_name)).strftime(DATETIME_FORMAT)


def parse_time(text: str, tz_name: str, name: str) -> datetime:
    try:
        naive = datetime.strptime(text, DATETIME_FORMAT)
    except ValueError:
        raise invalid(f"{name} must be DATETIME like 2015-10-02 17:58:43") from None
    return naive.replace(tzinfo=ZoneInfo(tz_name))
