"""Every method of the doc, served under /pozvonim/v2u.

The doc names each method by path only ("запрос методом POST на URL метода") while giving
several methods the same path (/sites: list and create; /sites/:id: get, update, delete), so
the HTTP verb tells them apart, REST-fashion: GET reads, POST creates or acts, PUT updates,
DELETE deletes. auth/token is GET, as the doc says.
"""

from __future__ import annotations

from aiohttp import web

from ..state import STATE
from . import account, calls, sites, studio
from .auth import TOKEN_PATH, issue_token
from .admin import ROUTES as ADMIN_ROUTES
from .handler import signed
from .wire import ApiError, error_reply

BASE = "/pozvonim/v2u"
C = "/contributors/{id:\\d+}"

#: (verb, path as in the doc with :id, aiohttp path, operation)
METHODS = [
    ("GET", "/sites", "/sites", sites.list_sites),
    ("POST", "/sites", "/sites", sites.create_site),
    ("GET", "/sites/:id", "/sites/{id}", sites.get_site),
    ("PUT", "/sites/:id", "/sites/{id}", sites.update_site),
    ("DELETE", "/sites/:id", "/sites/{id}", sites.delete_site),
    ("GET", "/server/time/now", "/server/time/now", account.server_time),
    ("POST", "/sites/:id/call", "/sites/{id}/call", calls.call_now),
    ("POST", "/sites/:id/call/delayed", "/sites/{id}/call/delayed", calls.call_delayed),
    ("GET", "/widget", "/widget", account.list_widgets),
    ("GET", "/widget/:id", "/widget/{id}", account.get_widget),
    ("GET", "/calls", "/calls", calls.list_calls),
    ("GET", "/calls/:id", "/calls/{id}", calls.get_call),
    ("GET", "/profile", "/profile", account.get_profile),
    ("PUT", "/profile", "/profile", account.update_profile),
    ("POST", "/payments/contributors/:id", "/payments/contributors/{id}", studio.pay_contributor),
    ("GET", "/contributors", "/contributors", studio.list_contributors),
    ("POST", "/contributors", "/contributors", studio.create_contributor),
    ("GET", "/contributors/:id", C, studio.get_contributor),
    ("POST", "/contributors/sites", "/contributors/sites", studio.create_contributor_with_site),
    ("GET", "/contributors/:id/sites", C + "/sites", sites.list_contributor_sites),
    ("POST", "/contributors/:id/sites", C + "/sites", sites.create_contributor_site),
    ("GET", "/contributors/:id/sites/:id", C + "/sites/{site_id}", sites.get_contributor_site),
    ("PUT", "/contributors/:id/sites/:id", C + "/sites/{site_id}", sites.update_contributor_site),
    ("DELETE", "/contributors/:id/sites/:id", C + "/sites/{site_id}", sites.delete_contributor_site),
    ("GET", "/contributors/:id/calls", C + "/calls", calls.list_contributor_calls),
    ("GET", "/contributors/:id/calls/:id", C + "/calls/{call_id}", calls.get_contributor_call),
    ("POST", "/contributors/:id/payments", C + "/payments", studio.pay_contributor_alias),
]


async def no_such_method(request: web.Request) -> web.Response:
    path = request.path.removeprefix(BASE)
    exc = ApiError(404, "GEN-METHOD-NOT-FOUND", f"no method {request.method} {path}")
    return error_reply(request.app[STATE], exc)


ROUTES = [
    web.get(BASE + TOKEN_PATH, issue_token),
    *(web.route(verb, BASE + path, signed(operation)) for verb, _, path, operation in METHODS),
    # Last: whatever the table above does not serve still answers in the doc's error format.
    web.route("*", BASE + "/{tail:.*}", no_such_method),
    *ADMIN_ROUTES,
]
