"""Ringostat Power Dialer: add one row (one phone number) to a campaign.

Contract: ../shared/vendor-docs/ringostat-power-dialer-campaign-rows.txt
    POST /power-dialer/campaigns/campaign-rows   (served under /ringostat)
    headers Auth-key, x-project-id; body {"campaignId", "fio", "phone_number"}
    -> {"result": true}; limit: "Maximum 1 number per request".
The doc does not show error answers; the 4xx bodies here follow the success
shape ({"result": false, "error": ...}), which is what clients should expect.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .state import STATE, SandboxState
from .vendor import VendorPlugin, accept, arrive, error_body, json_bytes, reply

VENDOR = "ringostat"
ROWS_PATH = "/ringostat/power-dialer/campaigns/campaign-rows"
MAX_ONE_NUMBER = "Maximum 1 number per request"
MAX_FIO_CHARS = 255
PHONE_DIGITS_MIN, PHONE_DIGITS_MAX = 10, 15

OK_BODY = json_bytes({"result": True})
ARRIVED_T = "arrived_t"  # request key: time.time() when the request reached the handler
# Separators that can only mean "a list of numbers", unlike spaces inside one number.
_LIST_SEPARATORS = re.compile(r"[,;|\n\r\t]+")


class RowError(ValueError):
    """The body is not one valid campaign row; the message goes to the client."""


def auth_error(state: SandboxState, headers: Any) -> str | None:
    project = headers.get("x-project-id")
    key = headers.get("Auth-key")
    if not project:
        return "Missing x-project-id header"
    if not key:
        return "Missing Auth-key header"
    expected = state.config.projects.get(project)
    if expected is None:
        return "Unknown project"
    if key != expected:
        return "Invalid Auth-key"
    return None


def parse_row(raw: bytes) -> tuple[int, str, str]:
    """(campaign_id, phone_number, fio) from a request body, or RowError."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RowError("Body must be valid JSON") from None
    if not isinstance(body, dict):
        raise RowError("Body must be a JSON object")
    return _campaign_id(body.get("campaignId")), _phone(body.get("phone_number")), _fio(body)


def _campaign_id(value: Any) -> int:
    if type(value) is not int or value <= 0:  # `type` rejects bool, a subclass of int
        raise RowError("campaignId must be a positive integer")
    return value


def _phone(value: Any) -> str:
    if type(value) is str and value.isascii() and value.isdigit():
        if len(value) > PHONE_DIGITS_MAX:  # glued numbers
            raise RowError(MAX_ONE_NUMBER)
        if len(value) < PHONE_DIGITS_MIN:
            raise RowError("phone_number must have 10-15 digits")
        return value
    if isinstance(value, list) and len(value) > 1:
        raise RowError(MAX_ONE_NUMBER)
    if value is None:
        raise RowError("phone_number is required")
    if not isinstance(value, str):
        raise RowError("phone_number must be a string of 10-15 digits")
    digits = sum(ch in "0123456789" for ch in value)
    parts = [part for part in _LIST_SEPARATORS.split(value) if any(ch.isdigit() for ch in part)]
    if digits > PHONE_DIGITS_MAX or len(parts) > 1:
        raise RowError(MAX_ONE_NUMBER)
    raise RowError("phone_number must be 10-15 digits only (no '+', spaces or dashes)")


def _fio(body: dict[str, Any]) -> str:
    if "fio" not in body:
        raise RowError("fio is required (may be empty)")
    fio = body["fio"]
    if not isinstance(fio, str):
        raise RowError("fio must be a string")
    if len(fio) > MAX_FIO_CHARS:
        raise RowError(f"fio must be at most {MAX_FIO_CHARS} characters")
    return fio


def project_route(apply: Callable[[SandboxState, str, web.Request], Awaitable[web.Response]]):
    """A handler running the Ringostat pipeline around `apply(state, project, request)`:
    auth (401), then `arrive` (429, 5xx, latency) for the project of x-project-id.

    Shared by the Power Dialer and the minicrm: one Ringostat project is one account.
    """

    async def handle(request: web.Request) -> web.Response:
        state = request.app[STATE]
        # Before the latency: when the request reached the vendor, which benchmarks compare
        # with a client's send time ("t" is stamped after the latency, when the row is applied).
        request[ARRIVED_T] = time.time()
        denied = auth_error(state, request.headers)
        project = request.headers.get("x-project-id", "")
        caller = reply(state, 401, error_body(denied)) if denied is not None else project
        return await arrive(state, caller) or await apply(state, project, request)

    handle.__name__ = apply.__name__
    return handle


async def add_campaign_row(state: SandboxState, project: str, request: web.Request) -> web.Response:
    try:
        campaign_id, phone, fio = parse_row(await request.read())
    except RowError as exc:
        return reply(state, 400, error_body(str(exc)))
    if campaign_id in state.config.closed_campaigns:
        return reply(state, 400, error_body(f"campaign {campaign_id} does not take rows"))
    row = {"project": project, "campaign_id": campaign_id, "phone_number": phone, "fio": fio, "t": time.time(),
           "arrived_t": request[ARRIVED_T]}
    return await accept(state, VENDOR, (project, campaign_id, phone), row, OK_BODY)


PLUGIN = VendorPlugin(
    name=VENDOR,
    routes=[web.post(ROWS_PATH, project_route(add_campaign_row))],
    row_filters={"project": "project", "campaign": "campaign_id"},
)
