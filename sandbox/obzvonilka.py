"""Obzvonilka REST API: contact bases, contacts, users (served under /obzvonilka).

Contract: ../shared/vendor-docs/obzvonilka-rest-api.txt
    GET   /api/contact_bases.json                                       list of bases
    GET   /api/contact_bases/1.json                                     one base
    GET   /api/contact_bases/1/contacts.json                            contacts of base 1
    GET   /api/contact_bases/1/contacts/1.json                          one contact
    GET   /api/contact_bases/1/contacts/find_by_external/code.json      by external code
    POST  /api/contact_bases/1/contacts.json    form contact[name], contact[phone1]...
    PATCH /api/contact_bases/1/contacts/1.json  form contact[...]: only the fields sent change
    GET   /api/users.json, /api/users/1.json                            the key's organization
The key: parameter `api_key` (query or form) or header `X-API-KEY`. The doc shows no error
answers; these follow the usual Rails API shapes: 401/404 {"error": ...}, 400 for a
missing `contact`, 422 {"errors": {field: [messages]}}. Writes are recorded as rows
(GET /_sandbox/obzvonilka/rows?base=&action=&external_code=); the vendor's rate limit
account is `obzvonilka:<organization>` in the shared `rate_limits` config.

Test endpoints: GET/POST /_sandbox/obzvonilka/config ({"api_keys": {key: org}}),
POST /_sandbox/obzvonilka/reset (data back to the seed), GET /_sandbox/obzvonilka/contacts?base=N.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import requests
from aiohttp import web

from .obzvonilka_data import CONTACT_ATTRIBUTES, DEFAULT_ORG, PHONE_SLOTS, Organization, data_of
from .state import STATE, SandboxState
from .vendor import JSON_TYPE, VendorPlugin, accept, arrive, json_bytes, reply

VENDOR = "obzvonilka"
API = f"/{VENDOR}/api"
CONTROL = f"/_sandbox/{VENDOR}"
API_KEY_HEADER = "X-API-KEY"
MAX_TEXT_CHARS = 255
_PHONE = re.compile(r"^\+?[0-9]{5,15}$")
_CONTACT_FIELD = re.compile(r"^contact\[(\w+)\]$")
_PHONE_FIELD = re.compile(r"^phone\d+$")
_TEXT_FIELDS = ("name", "email", "external_code", "www")


@dataclass(frozen=True)
class _Caller:
    state: SandboxState
    org_name: str
    org: Organization


class _Refused(Exception):
    """Ends a request with this answer; raised from anywhere below the endpoint."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def endpoint(handler: Callable[[web.Request, _Caller], Awaitable[web.Response]]):
    """The shared order: auth (the key's organization) -> `arrive` (admit on arrival, latency) -> the handler."""

    async def run(request: web.Request) -> web.Response:
        state = request.app[STATE]
        form = await request.post() if request.method in ("POST", "PATCH") else {}
        key = request.headers.get(API_KEY_HEADER) or request.query.get("api_key") or form.get("api_key")
        found = data_of(state).org_of(str(key)) if key else None
        if found is None:
            caller = reply(state, 401, json_bytes({"error": "Invalid API key" if key else "API key is missing"}))
        else:
            caller = f"{VENDOR}:{found[0]}"
        refused = await arrive(state, caller)
        if refused is not None:
            return refused
        try:
            return await handler(request, _Caller(state, *found))
        except _Refused as exc:
            return reply(state, exc.status, json_bytes(exc.body))

    return run


def _ok(caller: _Caller, payload: Any) -> web.Response:
    return reply(caller.state, 200, json_bytes(payload))


def _base(request: web.Request, caller: _Caller) -> int:
    base_id = int(request.match_info["base_id"])
    if base_id not in caller.org.bases:
        raise _Refused(404, {"error": "Contact base not found"})
    return base_id


def _contact(request: web.Request, caller: _Caller, base_id: int) -> dict:
    contact = caller.org.contacts[base_id].get(int(request.match_info["contact_id"]))
    if contact is None:
        raise _Refused(404, {"error": "Contact not found"})
    return contact


@endpoint
async def list_bases(request: web.Request, caller: _Caller) -> web.Response:
    return _ok(caller, list(caller.org.bases.values()))


@endpoint
async def get_base(request: web.Request, caller: _Caller) -> web.Response:
    return _ok(caller, caller.org.bases[_base(request, caller)])


@endpoint
async def list_contacts(request: web.Request, caller: _Caller) -> web.Response:
    return _ok(caller, list(caller.org.contacts[_base(request, caller)].values()))


@endpoint
async def get_contact(request: web.Request, caller: _Caller) -> web.Response:
    return _ok(caller, _contact(request, caller, _base(request, caller)))


@endpoint
async def find_by_external(request: web.Request, caller: _Caller) -> web.Response:
    contact = caller.org.find_by_external_code(_base(request, caller), request.match_info["code"])
    if contact is None:
        raise _Refused(404, {"error": "Contact not found"})
    return _ok(caller, contact)


@endpoint
async def create_contact(request: web.Request, caller: _Caller) -> web.Response:
    base_id = _base(request, caller)
    fields = _contact_fields(await request.post(), creating=True)
    contact = caller.org.add_contact(base_id, fields)
    identity = ("create", caller.org_name, base_id, fields.get("external_code") or contact["id"])
    return await accept(caller.state, VENDOR, identity, _row(caller, base_id, "create", contact, fields),
                        json_bytes(contact))


@endpoint
async def update_contact(request: web.Request, caller: _Caller) -> web.Response:
    base_id = _base(request, caller)
    contact = _contact(request, caller, base_id)
    fields = _contact_fields(await request.post(), creating=False)
    contact.update(fields)
    identity = ("update", caller.org_name, base_id, contact["id"])
    return await accept(caller.state, VENDOR, identity, _row(caller, base_id, "update", contact, fields),
                        json_bytes(contact))


@endpoint
async def list_users(request: web.Request, caller: _Caller) -> web.Response:
    return _ok(caller, list(caller.org.users.values()))


@endpoint
async def get_user(request: web.Request, caller: _Caller) -> web.Response:
    user = caller.org.users.get(int(request.match_info["user_id"]))
    if user is None:
        raise _Refused(404, {"error": "User not found"})
    return _ok(caller, user)


def _contact_fields(form: Any, *, creating: bool) -> dict[str, str]:
    """The contact[...] fields of a form, validated like the vendor's model would."""
    fields = {match.group(1): str(value) for key, value in form.items() if (match := _CONTACT_FIELD.match(key))}
    if not fields:
        raise _Refused(400, {"error": "param is missing or the value is empty: contact"})
    problems: dict[str, list[str]] = {}
    for name, value in fields.items():
        if name not in CONTACT_ATTRIBUTES:
            problems[name] = ["unknown attribute"]
        elif _PHONE_FIELD.match(name) and value and not _PHONE.match(value):
            problems[name] = ["is invalid"]
        elif name in _TEXT_FIELDS and len(value) > MAX_TEXT_CHARS:
            problems[name] = [f"is too long (maximum is {MAX_TEXT_CHARS} characters)"]
    if creating and not any(fields.get(f"phone{i}") for i in PHONE_SLOTS):
        problems.setdefault("phone1", []).append("can't be blank")
    if problems:
        raise _Refused(422, {"errors": problems})
    return fields


def _row(caller: _Caller, base_id: int, action: str, contact: dict, fields: dict[str, str]) -> dict[str, Any]:
    return {"organization": caller.org_name, "base_id": base_id, "action": action, "contact_id": contact["id"],
            "external_code": contact["external_code"], "fields": fields, "t": time.time()}


# --- /_sandbox/obzvonilka/: test endpoints, outside faults, limits and stats


def _control_json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=json_bytes(payload), status=status, content_type=JSON_TYPE)


async def get_config(request: web.Request) -> web.Response:
    return _control_json(data_of(request.app[STATE]).to_json())


async def post_config(request: web.Request) -> web.Response:
    data = data_of(request.app[STATE])
    try:
        data.configure(json.loads(await request.read() or b"{}"))
    except ValueError as exc:
        return _control_json({"ok": False, "error": str(exc)}, status=400)
    return _control_json(data.to_json())


async def reset(request: web.Request) -> web.Response:
    data_of(request.app[STATE]).reset()
    return _control_json({"ok": True})


async def stored_contacts(request: web.Request) -> web.Response:
    """Contacts as stored now (not as recorded): ?organization=default&base=N."""
    found = data_of(request.app[STATE])
    name = request.query.get("organization", DEFAULT_ORG)
    org = found.orgs.get(name) or Organization.seeded()
    base = request.query.get("base", "")
    if base and not base.isdigit():
        return _control_json({"ok": False, "error": "base must be a contact base id"}, status=400)
    bases = [int(base)] if base else list(org.contacts)
    return _control_json({"contacts": [c for b in bases for c in org.contacts.get(b, {}).values()]})


def configure(sandbox_url: str, *, api_keys: dict[str, str | None], timeout_s: float = 10.0) -> dict:
    """Teach a running sandbox API keys (key -> organization); for tests and the demo."""
    response = requests.post(f"{sandbox_url.rstrip('/')}{CONTROL}/config", json={"api_keys": api_keys},
                             timeout=timeout_s)
    response.raise_for_status()
    return response.json()


_ID = r"{%s:\d+}"

PLUGIN = VendorPlugin(
    name=VENDOR,
    routes=[
        web.get(f"{API}/contact_bases.json", list_bases),
        web.get(f"{API}/contact_bases/{_ID % 'base_id'}.json", get_base),
        web.get(f"{API}/contact_bases/{_ID % 'base_id'}/contacts.json", list_contacts),
        web.post(f"{API}/contact_bases/{_ID % 'base_id'}/contacts.json", create_contact),
        web.get(f"{API}/contact_bases/{_ID % 'base_id'}/contacts/{_ID % 'contact_id'}.json", get_contact),
        web.patch(f"{API}/contact_bases/{_ID % 'base_id'}/contacts/{_ID % 'contact_id'}.json", update_contact),
        web.get(f"{API}/contact_bases/{_ID % 'base_id'}/contacts/find_by_external/{{code}}.json", find_by_external),
        web.get(f"{API}/users.json", list_users),
        web.get(f"{API}/users/{_ID % 'user_id'}.json", get_user),
        web.get(f"{CONTROL}/config", get_config),
        web.post(f"{CONTROL}/config", post_config),
        web.post(f"{CONTROL}/reset", reset),
        web.get(f"{CONTROL}/contacts", stored_contacts),
    ],
    row_filters={"organization": "organization", "base": "base_id", "action": "action",
                 "external_code": "external_code"},
)
