"""Ringostat: the Power Dialer's campaign rows and the minicrm contact book, one host, one pair of headers.

    client.py   RingostatClient (campaign rows), ringostat_headers
    minicrm.py  MiniCrmClient (contacts and organizations sync), RingostatApi (both over one session)
    models.py   bodies and replies of both docs, RingostatCredentials
"""

from .client import CAMPAIGN_ROWS_PATH, VENDOR, RingostatClient, ringostat_headers
from .minicrm import CONTACTS_SYNC_PATH, ORGANIZATIONS_SYNC_PATH, MiniCrmClient, RingostatApi
from .models import (
    FIO_MAX_CHARS, MAX_TEXT_CHARS, CampaignRow, Contact, ContactDirection, ContactsSync, Organization, OrganizationsSync,
    ResultReply, RingostatCredentials, SyncReply,
)

__all__ = [
    "CAMPAIGN_ROWS_PATH", "CONTACTS_SYNC_PATH", "FIO_MAX_CHARS", "MAX_TEXT_CHARS", "ORGANIZATIONS_SYNC_PATH", "VENDOR",
    "CampaignRow", "Contact", "ContactDirection", "ContactsSync", "MiniCrmClient", "Organization", "OrganizationsSync",
    "ResultReply", "RingostatApi", "RingostatClient", "RingostatCredentials", "SyncReply", "ringostat_headers",
]
