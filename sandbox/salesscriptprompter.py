"""SalesScriptPrompter API v2: users, scripts, call records and custom fields.

Contract: ../shared/vendor-docs/salesscriptprompter-api-v2.txt
    GET|POST /salesscriptprompter/integration/apiv2/<controller>/<method>?key=...
The key comes as the `Key` header or the `key` parameter. The doc shows success bodies
only; refusals here take the doc's `{result: false, errors: [...]}` shape: HTTP 401 for
an unknown key, HTTP 200 for a request the vendor declines (a duplicate field code...).

Accounts are API keys: `POST /_sandbox/salesscriptprompter/config {"keys": {key: account}}`
adds some (a null account drops the key); `configure(url, keys=...)` does it from Python.
Rate limits are `rate_limits[account]` as for every vendor. Custom fields are not kept
apart: they are folded from the recorded field operations, so `/_sandbox/reset` forgets
them with everything else.
"""

from __future__ import annotations

import json
import secrets
import time
import weakref
from typing import Any, Callable

import requests
from aiohttp import web

from .state import STATE, SandboxState
from .vendor import VendorPlugin, accept, arrive, json_bytes, reply

VENDOR = "salesscriptprompter"
PREFIX = "/salesscriptprompter/integration/apiv2"
DEFAULT_KEY = "sandbox-ssp-key"
DEFAULT_ACCOUNT = "ssp-default"
CONTROL = f"/_sandbox/{VENDOR}"
FIELD_TYPES = ("string", "number", "date", "boolean", "in")
OK_BODY = json_bytes({"result": True})
OWNER_ID = 123456
MAIN_PAGE = "/salesscriptprompter/"
# The doc's example users; their tokens are what user/auth expects.
USERS = [
    {"id": 123456, "role": "user_head_manager", "login": "head@example.com", "auth_token": "token-123456"},
    {"id": 123457, "role": "user_designer", "login": "designer@example.com", "auth_token": "token-123457"},
    {"id": 123459, "role": "user_supervisor", "login": "supervisor@example.com", "auth_token": "token-123459"},
    {"id": 123458, "role": "user_operator", "login": "operator@example.com", "auth_token": "token-123458"},
]
SCRIPTS = [
    {"id": 1617, "name": "Prohod Sekretaria", "published": 0},
    {"id": 460, "name": "The purpose of the meeting", "published": 1},
    {"id": 198, "name": "Smart4smart 3.0", "published": 1},
]
# key -> account, per sandbox state (a weak map: tests build many apps in one process)
_KEYS: weakref.WeakKeyDictionary[SandboxState, dict[str, str]] = weakref.WeakKeyDictionary()


def refused(state: SandboxState, *reasons: str, status: int = 200) -> web.Response:
    return reply(state, status, json_bytes({"result": False, "errors": list(reasons)}))


def keys_of(state: SandboxState) -> dict[str, str]:
    return _KEYS.setdefault(state, {DEFAULT_KEY: DEFAULT_ACCOUNT})


def operation(route: str, apply):
    """A handler running the shared pipeline around `apply(state, account, params)`."""

    async def handle(request: web.Request) -> web.Response:
        state = request.app[STATE]
        params = dict(request.query)
        if request.method == "POST":
            params.update(await request.post())
        key = params["key"] = request.headers.get("Key") or params.get("key", "")
        account = keys_of(state).get(key)
        caller = refused(state, "Invalid API key", status=401) if account is None else account
        return await arrive(state, caller) or await apply(state, account, params)

    handle.__name__ = route.replace("/", "_").replace("-", "_")
    return handle


def _listing(payload: Callable[[SandboxState, str, dict], Any]):
    """A read-only operation: answers `payload(state, account, params)`, records nothing."""

    async def apply(state: SandboxState, account: str, params: dict) -> web.Response:
        return reply(state, 200, json_bytes(payload(state, account, params)))

    return apply


async def record(state: SandboxState, account: str, op: str, fields: dict[str, Any]) -> web.Response:
    row = {"account": account, "op": op, **fields, "t": time.time()}
    return await accept(state, VENDOR, (account, op, json.dumps(fields, sort_keys=True)), row, OK_BODY)


def fields_of(state: SandboxState, account: str) -> dict[str, dict[str, Any]]:
    """The account's custom fields now: its recorded field operations, replayed."""
    fields: dict[str, dict[str, Any]] = {}
    created = 0
    for row in state.log.rows.get(VENDOR, []):
        if row["account"] != account or not row["op"].startswith("field/"):
            continue
        code = row["code"]
        if row["op"] == "field/create":
            created += 1
            fields[code] = {"id": created, "code": code, "account_id": 1, "name": row["name"], "type": row["type"],
                            "type_data": row.get("type_data") or ""}
        elif row["op"] == "field/update":
            fields[code].update({k: row[k] for k in ("name", "type", "type_data") if row.get(k) is not None})
        else:
            fields.pop(code, None)
    return fields


async def user_auth(state: SandboxState, account: str, params: dict) -> web.Response:
    user = next((u for u in USERS if str(u["id"]) == params.get("id") and u["auth_token"] == params.get("token")), None)
    if user is None:
        return refused(state, "Wrong user id or token")
    row = {"account": account, "op": "user/auth", "user_id": user["id"], "t": time.time()}
    state.record(VENDOR, (account, "user/auth", user["id"]), row)
    # The doc: "Redirects to the main page"; the cookie is the browser's login.
    response = reply(state, 302, b"", {"Location": MAIN_PAGE})
    response.set_cookie("ssp_session", secrets.token_hex(8), httponly=True)
    return response


async def attach_record(state: SandboxState, account: str, params: dict) -> web.Response:
    call_id, url = params.get("id", ""), params.get("url", "")
    if not call_id.isdigit() or int(call_id) <= 0:
        return refused(state, "id must be a call id (a positive integer)")
    if not url.startswith(("http://", "https://")):
        return refused(state, "url must be an http(s) URL of the record")
    return await record(state, account, "call/attach-record", {"call_id": int(call_id), "url": url})


def _field_errors(params: dict, *, creating: bool) -> list[str]:
    problems = []
    if not params.get("code"):
        problems.append("code is required")
    if creating and not params.get("name"):
        problems.append("name is required")
    kind = params.get("type")
    if (creating or kind is not None) and kind not in FIELD_TYPES:
        problems.append(f"type must be one of {', '.join(FIELD_TYPES)}")
    return problems


async def field_create(state: SandboxState, account: str, params: dict) -> web.Response:
    problems = _field_errors(params, creating=True)
    if not problems and params["code"] in fields_of(state, account):
        problems.append(f"a field with code {params['code']} exists")
    if problems:
        return refused(state, *problems)
    wanted = {k: params.get(k) for k in ("code", "name", "type", "type_data")}
    return await record(state, account, "field/create", wanted)


async def field_update(state: SandboxState, account: str, params: dict) -> web.Response:
    problems = _field_errors(params, creating=False)
    if not problems and params["code"] not in fields_of(state, account):
        problems.append(f"no field with code {params['code']}")
    if not problems and not any(params.get(k) is not None for k in ("name", "type", "type_data")):
        problems.append("nothing to change")
    if problems:
        return refused(state, *problems)
    return await record(state, account, "field/update", {k: params.get(k) for k in ("code", "name", "type", "type_data")})


async def field_delete(state: SandboxState, account: str, params: dict) -> web.Response:
    code = params.get("code", "")
    if code not in fields_of(state, account):
        return refused(state, f"no field with code {code}" if code else "code is required")
    return await record(state, account, "field/delete", {"code": code})


async def post_config(request: web.Request) -> web.Response:
    """Test/ops endpoint: {"keys": {key: account, or null to drop the key}}; validated first."""
    state = request.app[STATE]
    try:
        update = json.loads(await request.read())
    except ValueError:
        update = None
    keys = update.get("keys") if isinstance(update, dict) and set(update) == {"keys"} else None
    if not isinstance(keys, dict) or not all(k and (v is None or isinstance(v, str) and v) for k, v in keys.items()):
        return web.json_response({"ok": False, "error": 'body must be {"keys": {key: account or null}}'}, status=400)
    known = keys_of(state)
    for key, account in keys.items():
        if account is None:
            known.pop(key, None)
        else:
            known[key] = account
    return web.json_response({"ok": True, "accounts": sorted(set(known.values()))})


def configure(sandbox_url: str, *, keys: dict[str, str | None], timeout_s: float = 10.0) -> dict:
    """Teach a running sandbox API keys (key -> account); for tests and the demo."""
    response = requests.post(f"{sandbox_url.rstrip('/')}{CONTROL}/config", json={"keys": keys}, timeout=timeout_s)
    response.raise_for_status()
    return response.json()


ROUTES = {
    "user/check": _listing(lambda state, account, params: {"key": params["key"], "user_id": OWNER_ID}),
    "user/list": _listing(lambda state, account, params: USERS),
    "user/auth": user_auth,
    "script/list": _listing(lambda state, account, params: SCRIPTS),
    "call/attach-record": attach_record,
    "field/list": _listing(lambda state, account, params: list(fields_of(state, account).values())),
    "field/create": field_create,
    "field/update": field_update,
    "field/delete": field_delete,
}

PLUGIN = VendorPlugin(
    name=VENDOR,
    routes=[web.route("*", f"{PREFIX}/{route}", operation(route, apply)) for route, apply in ROUTES.items()]
    + [web.post(f"{CONTROL}/config", post_config)],
    row_filters={"account": "account", "op": "op"},
)
