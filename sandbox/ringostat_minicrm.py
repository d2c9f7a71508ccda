"""Ringostat minicrm: contacts and organizations for the Smart Phone's contact book.

Contract: ../shared/vendor-docs/ringostat-minicrm-contacts-sync.txt
    POST /minicrm/contacts/sync        (served under /ringostat, like the Power Dialer)
    POST /minicrm/organizations/sync
Same credentials as the Power Dialer (config `projects`), and the same per-project rate
limit: one Ringostat project is one vendor account. Bodies are checked strictly against
the shared pydantic models (vendors.ringostat.models: the doc's tables in one place),
plus what only the vendor can know: every projectId is the project of the headers.
The doc shows no reply; this one answers {"result": true}, and errors like the
Power Dialer's, {"result": false, "error": ...}.

A separate plugin from `ringostat` so that its recorded rows (one per contact or
organization) are listed apart: GET /_sandbox/ringostat-minicrm/rows?kind=contact.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pydantic
from aiohttp import web

from vendors.ringostat import CONTACTS_SYNC_PATH, ORGANIZATIONS_SYNC_PATH, ContactsSync, OrganizationsSync

from .ringostat import project_route
from .state import SandboxState
from .vendor import VendorPlugin, accept, error_body, json_bytes, reply

VENDOR = "ringostat-minicrm"
URL_PREFIX = "/ringostat"
OK_BODY = json_bytes({"result": True})
_requests = itertools.count(1)  # numbers each accepted request, so tests can see the batches


def problems(exc: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])


def sync(model: type[ContactsSync] | type[OrganizationsSync], kind: str, items_of):
    """A handler: parse the body with `model`, then record each item as one row."""

    async def apply(state: SandboxState, project: str, request: web.Request) -> web.Response:
        try:
            body = model.model_validate_json(await request.read(), strict=True)
        except pydantic.ValidationError as exc:
            return reply(state, 400, error_body(problems(exc)))
        items = [item.model_dump(mode="json", by_alias=True) for item in items_of(body)]
        if any(str(item["projectId"]) != project for item in _with_nested(items)):
            return reply(state, 400, error_body("projectId must be the project of x-project-id"))
        return await _record_all(state, project, kind, items)

    apply.__name__ = f"sync_{kind}s"
    return project_route(apply)


def _with_nested(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return items + [org for item in items for org in item.get("organizations") or []]


async def _record_all(state: SandboxState, project: str, kind: str, items: list[dict[str, Any]]) -> web.Response:
    """All items are applied before the answer (which may then hang, like any accept)."""
    request_no = next(_requests)
    rows = [{"project": project, "kind": kind, "request": request_no, **item, "t": time.time()} for item in items]
    for item, row in zip(items[:-1], rows[:-1]):
        state.record(VENDOR, _identity(project, kind, item), row)
    return await accept(state, VENDOR, _identity(project, kind, items[-1]), rows[-1], OK_BODY)


def _identity(project: str, kind: str, item: dict[str, Any]) -> tuple:
    return (project, kind, item["origin"], item["externalId"], item.get("leadId"))


PLUGIN = VendorPlugin(
    name=VENDOR,
    routes=[
        web.post(URL_PREFIX + CONTACTS_SYNC_PATH, sync(ContactsSync, "contact", lambda body: body.contacts)),
        web.post(URL_PREFIX + ORGANIZATIONS_SYNC_PATH,
                 sync(OrganizationsSync, "organization", lambda body: body.organizations)),
    ],
    row_filters={"project": "project", "kind": "kind", "origin": "origin", "request": "request"},
)
