"""Pozvonim's in-memory world: accounts and their keys, tokens, and each account's data.

Kept beside the shared SandboxState (one per app, found by `pozvonim_state`), so the
shared config stays vendor-neutral. `/_sandbox/reset` clears it too: a reset replaces the
shared Stats object, which is how we notice one without a hook in sandbox/state.py.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..state import SandboxState

DEFAULT_UID = "1001"
DEFAULT_API_KEY = "sandbox-pozvonim-key"
#: "токен будет действителен 4 часа"
TOKEN_TTL_S = 4 * 3600.0
DEFAULT_TIMEZONE = "Europe/Moscow"
OPENING_BALANCE = Decimal("100000.00")
OPENING_PARTNER_BALANCE = Decimal("5000.00")


@dataclass
class PozvonimConfig:
    #: uid -> API key ("Ключ API" from the profile page)
    accounts: dict[str, str] = field(default_factory=lambda: {DEFAULT_UID: DEFAULT_API_KEY})
    #: tests shorten this to see clients refresh before expiry / after a refusal
    token_ttl_s: float = TOKEN_TTL_S


@dataclass
class IssuedToken:
    value: str
    expires_at_s: float  # time.time()


@dataclass
class SiteRec:
    id: int
    widget_id: int
    contributor_id: int | None
    config: dict[str, Any]  # {"site", "managers", "widget", "blacklists"}, normalised
    created_at: datetime
    updated_at: datetime


@dataclass
class CallRec:
    id: int
    site_id: int
    contributor_id: int | None
    status_id: int
    fields: dict[str, Any]
    created_at: datetime
    delayed_at: datetime | None = None


@dataclass
class ContributorRec:
    id: int
    email: str
    created_at: datetime
    balance: Decimal = Decimal("0.00")


@dataclass
class Account:
    """One uid's data: its profile, sites (own and its contributors'), calls, contributors."""

    uid: str
    timezone: str = DEFAULT_TIMEZONE
    api_enable: bool = True
    balance: Decimal = OPENING_BALANCE
    partner_balance: Decimal = OPENING_PARTNER_BALANCE
    sites: dict[int, SiteRec] = field(default_factory=dict)
    calls: dict[int, CallRec] = field(default_factory=dict)
    contributors: dict[int, ContributorRec] = field(default_factory=dict)


class PozvonimState:
    def __init__(self) -> None:
        self.config = PozvonimConfig()
        #: (uid, caller IP) -> the token issued last: the vendor knows one token per uid and IP
        self.tokens: dict[tuple[str, str], IssuedToken] = {}
        self.reset_data()

    def reset_data(self) -> None:
        self.accounts: dict[str, Account] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def account(self, uid: str) -> Account:
        if uid not in self.accounts:
            self.accounts[uid] = Account(uid)
        return self.accounts[uid]


@dataclass
class _Slot:
    state: PozvonimState
    stats: object


_SLOTS: weakref.WeakKeyDictionary[SandboxState, _Slot] = weakref.WeakKeyDictionary()


def pozvonim_state(shared: SandboxState) -> PozvonimState:
    slot = _SLOTS.get(shared)
    if slot is None:
        slot = _SLOTS[shared] = _Slot(PozvonimState(), shared.stats)
    elif slot.stats is not shared.stats:  # /_sandbox/reset ran: forget data, keep config and tokens
        slot.state.reset_data()
        slot.stats = shared.stats
    return slot.state
