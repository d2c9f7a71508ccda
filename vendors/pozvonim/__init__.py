"""Pozvonim API v2u client (../shared/vendor-docs/pozvonim-api-v2u.txt).

    signing.py    md5 signatures, PHP http_build_query encoding
    auth.py       tokens: TokenStore protocol, MemoryTokenStore, TokenProvider
    errors.py     vendor answers onto vendors.errors
    transport.py  signed requests, one retry with a new token after a 401
    params.py     request model base, DATETIME;  site.py  site settings;  models.py  other requests
    replies.py    answers
    client.py     PozvonimClient (account operations) + studio.py StudioApi (contributors)
"""

from .auth import TOKEN_TTL_S, MemoryTokenStore, Token, TokenProvider, TokenStore, TokenStoreBusy
from .client import PozvonimClient
from .errors import VENDOR, TokenRejected
from .models import (
    CallRequest, CallsFilter, ContributorCallsFilter, DelayedCallRequest, NewContributor, NewContributorWithSite,
    Payment, PaymentSource,
)
from .replies import Call, Contributor, ContributorWithSite, Deleted, PaymentDone, Profile, ServerTime, Site
from .replies import WidgetSettings
from .site import Algorithms, Blacklists, DaySchedule, Manager, Schedule, SiteConfig, SiteSettings, TimedAlgorithm
from .site import Toggle, Widget
from .sitechange import SiteChange
from .transport import PozvonimCredentials

__all__ = [
    "TOKEN_TTL_S", "VENDOR",
    "Algorithms", "Blacklists", "Call", "CallRequest", "CallsFilter", "Contributor", "ContributorCallsFilter",
    "ContributorWithSite", "DaySchedule", "DelayedCallRequest", "Deleted", "Manager", "MemoryTokenStore",
    "NewContributor", "NewContributorWithSite", "Payment", "PaymentDone", "PaymentSource", "PozvonimClient",
    "PozvonimCredentials", "Profile", "Schedule", "ServerTime", "Site", "SiteChange", "SiteConfig", "SiteSettings",
    "TimedAlgorithm", "Toggle", "Token", "TokenProvider", "TokenRejected", "TokenStore", "TokenStoreBusy",
    "Widget", "WidgetSettings",
]
