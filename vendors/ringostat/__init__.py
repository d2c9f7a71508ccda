"""Ringostat: the Power Dialer's campaign rows and the minicrm contact book, one host, one pair of headers.

    client.py   RingostatClient (campaign rows), ringostat_headers, RingostatCredentials
    minicrm.py  MiniCrmClient (contacts and organizations sync), RingostatApi (both over one session)
"""

from .client import (
    CAMPAIGN_ROWS_PATH, FIO_MAX_CHARS, VENDOR, CampaignRow, ResultReply, RingostatClient, RingostatCredentials,
    ringostat_headers,
)
from .minicrm import (
    CONTACTS_SYNC_PATH, MAX_TEXT_CHARS, ORGANIZATIONS_SYNC_PATH, Contact, ContactDirection, ContactsSync, MiniCrmClient,
    Organization, OrganizationsSync, RingostatApi, SyncReply,
)

__all__ = [
    "CAMPAIGN_ROWS_PATH", "CONTACTS_SYNC_PATH", "FIO_MAX_CHARS", "MAX_TEXT_CHARS", "ORGANIZATIONS_SYNC_PATH", "VENDOR",
    "CampaignRow", "Contact", "ContactDirection", "ContactsSync", "MiniCrmClient", "Organization", "OrganizationsSync",
    "ResultReply", "RingostatApi", "RingostatClient", "RingostatCredentials", "SyncReply", "ringostat_headers",
]
