"""Ringostat: the Power Dialer's campaign rows and the minicrm contact book, one host, one pair of headers.

    client.py   RingostatClient (campaign rows), ringostat_headers
    minicrm.py  MiniCrmClient (contacts and organizations sync), RingostatApi (both over one session)
    models.py   bodies and replies of both docs, RingostatCredentials

The clients load at their first use (`from vendors.ringostat import RingostatClient` as
before): they import requests (~50-70 ms), and what a load's checks and chunk messages need
of this package is its models and limits (BENCHMARKS.md, "Issue 11, third session").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendors.lazy import lazy_names

from .models import (
    FIO_MAX_CHARS, MAX_TEXT_CHARS, CampaignRow, Contact, ContactDirection, ContactsSync, Organization, OrganizationsSync,
    ResultReply, RingostatCredentials, SyncReply,
)

if TYPE_CHECKING:
    from .client import CAMPAIGN_ROWS_PATH, VENDOR, RingostatClient, ringostat_headers
    from .minicrm import CONTACTS_SYNC_PATH, ORGANIZATIONS_SYNC_PATH, MiniCrmClient, RingostatApi

#: the names that live in the client modules, and which module each is in
_CLIENT_NAMES = {
    **dict.fromkeys(("CAMPAIGN_ROWS_PATH", "VENDOR", "RingostatClient", "ringostat_headers"), ".client"),
    **dict.fromkeys(("CONTACTS_SYNC_PATH", "ORGANIZATIONS_SYNC_PATH", "MiniCrmClient", "RingostatApi"), ".minicrm"),
}

# lazy: the clients import requests, which a load's checks never need (module docstring)
__getattr__ = lazy_names(__name__, _CLIENT_NAMES)


__all__ = [
    "CAMPAIGN_ROWS_PATH", "CONTACTS_SYNC_PATH", "FIO_MAX_CHARS", "MAX_TEXT_CHARS", "ORGANIZATIONS_SYNC_PATH", "VENDOR",
    "CampaignRow", "Contact", "ContactDirection", "ContactsSync", "MiniCrmClient", "Organization", "OrganizationsSync",
    "ResultReply", "RingostatApi", "RingostatClient", "RingostatCredentials", "SyncReply", "ringostat_headers",
]
