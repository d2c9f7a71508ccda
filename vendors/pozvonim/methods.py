"""Which HTTP verb each Pozvonim method is sent with, in one table.

The doc says "Обращение к методам API осуществляется путём отправки запроса методом POST"
(every method is called by POST), yet gives one path to several methods: /sites lists and
creates, /sites/:id reads, updates and deletes. Sent by POST alone, a list could not be told
from a create. So by default each method goes with the verb of its meaning (GET reads, POST
creates or acts, PUT updates, DELETE deletes), which is what the sandbox serves; reads and
deletes carry their signed parameters in the query, writes in a form body. The setting
`TELEQUEUE_POZVONIM__ALL_POST=true` sends every method by POST instead, as the doc's sentence
reads, for a vendor that tells them apart some other way. auth/token is GET either way (its
own section of the doc says so).
"""

from __future__ import annotations

from typing import NamedTuple


class Method(NamedTuple):
    verb: str
    path: str  # as the doc writes it


METHODS: dict[str, Method] = {
    "sites.list": Method("GET", "/sites"),
    "sites.create": Method("POST", "/sites"),
    "sites.get": Method("GET", "/sites/:id"),
    "sites.update": Method("PUT", "/sites/:id"),
    "sites.delete": Method("DELETE", "/sites/:id"),
    "server_time.now": Method("GET", "/server/time/now"),
    "calls.now": Method("POST", "/sites/:id/call"),
    "calls.delayed": Method("POST", "/sites/:id/call/delayed"),
    "calls.list": Method("GET", "/calls"),
    "calls.get": Method("GET", "/calls/:id"),
    "widgets.list": Method("GET", "/widget"),
    "widgets.get": Method("GET", "/widget/:id"),
    "profile.get": Method("GET", "/profile"),
    "profile.update": Method("PUT", "/profile"),
    "payments.transfer": Method("POST", "/payments/contributors/:id"),
    "contributors.list": Method("GET", "/contributors"),
    "contributors.create": Method("POST", "/contributors"),
    "contributors.get": Method("GET", "/contributors/:id"),
    "contributors.create_with_site": Method("POST", "/contributors/sites"),
    "contributor_sites.list": Method("GET", "/contributors/:id/sites"),
    "contributor_sites.create": Method("POST", "/contributors/:id/sites"),
    "contributor_sites.get": Method("GET", "/contributors/:id/sites/:id"),
    "contributor_sites.update": Method("PUT", "/contributors/:id/sites/:id"),
    "contributor_sites.delete": Method("DELETE", "/contributors/:id/sites/:id"),
    "contributor_calls.list": Method("GET", "/contributors/:id/calls"),
    "contributor_calls.get": Method("GET", "/contributors/:id/calls/:id"),
    "contributor_payments.transfer": Method("POST", "/contributors/:id/payments"),
}


def verb_of(method: str, *, all_post: bool = False) -> str:
    return "POST" if all_post else METHODS[method].verb


def markdown_table() -> str:
    """The README's copy (tests/unit/test_readme.py keeps it in step)."""
    rows = [f"| `pozvonim.{name}` | `{m.path}` | {m.verb} |" for name, m in METHODS.items()]
    return "\n".join(["| task | doc path | verb sent (default) |", "|---|---|---|", *rows])
