"""How each non-idempotent operation's effect is looked up at the vendor after an unknown outcome.

Each `find` returns what the vendor holds (the operation was applied), None when the lookup
proves it was not, or raises CannotReconcile when the payload gives nothing to look up by.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tasks.once import CannotReconcile, Reconcile

#: Redis' clock and the vendor's may differ a little: look this far before the first send
CLOCK_SLACK_S = 5.0


def _first(items: list, match) -> Any:
    found = [item for item in items if match(item)]
    return found[-1] if found else None  # the newest, as the vendor lists in creation order


def _pozvonim_site(client: Any, p: Any, sent_at_s: float) -> Any:
    return _first(client.list_sites(), lambda site: _url(site) == p.site.url)


def _pozvonim_contributor_site(client: Any, p: Any, sent_at_s: float) -> Any:
    return _first(client.list_contributor_sites(p.contributor_id), lambda site: _url(site) == p.site.url)


def _pozvonim_contributor(client: Any, p: Any, sent_at_s: float) -> Any:
    return _first(client.list_contributors(), lambda c: _get(c, "email") == p.email)


def _pozvonim_contributor_with_site(client: Any, p: Any, sent_at_s: float) -> Any:
    found = _pozvonim_contributor(client, p, sent_at_s)
    if found is None:
        return None
    sites = client.list_contributor_sites(_get(found, "id"))
    return {"contributor": found, "site": _first(sites, lambda site: _url(site) == p.site.url)}


def _pozvonim_call(client: Any, p: Any, sent_at_s: float) -> Any:
    """Calls to this client's number on this site since the first send (DATETIME in the profile's zone)."""
    # lazy: vendors.pozvonim imports its client (requests), and every task module imports this
    # one, the Obzvonilka chunk's too, which a load imports for its payload; here `client` is
    # a PozvonimClient, so the package is loaded already
    from vendors.pozvonim import CallsFilter

    zone = ZoneInfo(_get(client.get_profile(), "timezone") or "Europe/Moscow")
    since = datetime.fromtimestamp(sent_at_s - CLOCK_SLACK_S, zone).replace(tzinfo=None, microsecond=0)
    calls = client.list_calls(CallsFilter(client=p.phone, sites_ids=[p.site_id], start_at=since))
    return _first(calls, lambda call: _get(call, "site_id") in (None, p.site_id))


def _obzvonilka_contact(client: Any, p: Any, sent_at_s: float) -> Any:
    code = (p.contact.external_code or "").strip()
    if not code:
        raise CannotReconcile("the contact has no external_code to look it up by")
    return client.find_contact_by_external_code(p.base_id, code)


def _ssp_field(client: Any, p: Any, sent_at_s: float) -> Any:
    return _first(client.list_fields(), lambda field: _get(field, "code") == p.code)


def _get(item: Any, name: str) -> Any:
    """A typed reply's field, or the raw JSON's when the reply had an unexpected shape."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _url(site: Any) -> Any:
    return _get(site, "url")


POZVONIM_SITE = Reconcile("listing sites by url", _pozvonim_site)
POZVONIM_CONTRIBUTOR_SITE = Reconcile("listing the contributor's sites by url", _pozvonim_contributor_site)
POZVONIM_CONTRIBUTOR = Reconcile("listing contributors by email", _pozvonim_contributor)
POZVONIM_CONTRIBUTOR_WITH_SITE = Reconcile("listing contributors by email", _pozvonim_contributor_with_site)
POZVONIM_CALL = Reconcile("listing calls to the client's phone on the site since the send", _pozvonim_call)
OBZVONILKA_CONTACT = Reconcile("finding the contact by external code (none given: outcome unknown)",
                               _obzvonilka_contact)
SSP_FIELD = Reconcile("listing fields by code", _ssp_field)
