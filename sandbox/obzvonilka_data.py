"""The emulated Obzvonilka's data: organizations (one per API key) with their contact
bases, contacts and users, seeded alike so tests and the demo know what is there.

Kept beside the shared SandboxState rather than in it (one `ObzvonilkaData` per state,
see `data_of`), so this vendor's config and data need nothing from sandbox/config.py.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field
from typing import Any

from .state import SandboxState

DEFAULT_API_KEY = "sandbox-obzvonilka-key"
DEFAULT_ORG = "default"
PHONE_SLOTS = range(1, 11)
#: every attribute of a contact the doc lists, besides `id`
CONTACT_ATTRIBUTES = (
    "name", "address_string", "description", "email", "external_code", "www",
    *(f"phone{i}" for i in PHONE_SLOTS), *(f"phone_remark{i}" for i in PHONE_SLOTS),
)

Record = dict[str, Any]


def _base(base_id: int, name: str, *, deleted: bool = False, remark: str = "") -> Record:
    return {"id": base_id, "auto_open_window_params": None, "deleted": deleted, "name": name,
            "parser_name": None, "parser_settings": None, "remark": remark, "select_from_last": False,
            "use_predictive_call": False}


def _user(user_id: int, name: str, email: str, *, admin: bool = False, enabled: bool = True) -> Record:
    return {"id": user_id, "account_enabled": enabled, "email": email, "name": name, "admin": admin}


def blank_contact(contact_id: int) -> Record:
    return {"id": contact_id, **dict.fromkeys(CONTACT_ATTRIBUTES)}


@dataclass
class Organization:
    """What one API key sees. Contacts are keyed by base, then by id (ids unique in the org)."""

    bases: dict[int, Record]
    users: dict[int, Record]
    contacts: dict[int, dict[int, Record]]
    _ids: itertools.count = field(repr=False, default_factory=lambda: itertools.count(1))

    @classmethod
    def seeded(cls) -> Organization:
        org = cls(
            bases={1: _base(1, "Основная база", remark="seed: two contacts"), 2: _base(2, "Повторный обзвон"),
                   3: _base(3, "Архив", deleted=True)},
            users={1: _user(1, "Лапшина Ирина Дмитриевна", "admin@example.com", admin=True),
                   2: _user(2, "Оператор Петров", "operator@example.com"),
                   3: _user(3, "Оператор заблокирован", "blocked@example.com", enabled=False)},
            contacts={1: {}, 2: {}, 3: {}},
        )
        org.add_contact(1, {"name": "Лапшина Ирина Дмитриевна", "external_code": "CRM-1", "phone1": "380930000001"})
        org.add_contact(1, {"name": "Петренко Іван", "external_code": "CRM-2", "phone1": "380930000002"})
        return org

    def add_contact(self, base_id: int, fields: Record) -> Record:
        contact = blank_contact(next(self._ids)) | fields
        self.contacts[base_id][contact["id"]] = contact
        return contact

    def find_by_external_code(self, base_id: int, code: str) -> Record | None:
        # The vendor does not promise codes are unique; the oldest match is the answer.
        return next((c for c in self.contacts[base_id].values() if c["external_code"] == code), None)


@dataclass
class ObzvonilkaData:
    api_keys: dict[str, str] = field(default_factory=lambda: {DEFAULT_API_KEY: DEFAULT_ORG})
    orgs: dict[str, Organization] = field(default_factory=dict)

    def org_of(self, api_key: str) -> tuple[str, Organization] | None:
        name = self.api_keys.get(api_key)
        if name is None:
            return None
        if name not in self.orgs:
            self.orgs[name] = Organization.seeded()
        return name, self.orgs[name]

    def configure(self, update: Any) -> None:
        """{"api_keys": {key: organization name, or null to drop the key}}; validated first."""
        if not isinstance(update, dict) or set(update) - {"api_keys"}:
            raise ValueError("config must be an object with only 'api_keys'")
        keys = update.get("api_keys", {})
        if not isinstance(keys, dict) or not all(
                isinstance(k, str) and k and (v is None or isinstance(v, str) and v) for k, v in keys.items()):
            raise ValueError("api_keys must be an object {api_key: organization name or null}")
        for key, org in keys.items():
            if org is None:
                self.api_keys.pop(key, None)
            else:
                self.api_keys[key] = org

    def reset(self) -> None:
        """Every organization back to its seed; keys are kept."""
        self.orgs.clear()

    def to_json(self) -> dict[str, Any]:
        # Keys are secrets: only how many map to each organization is shown.
        orgs: dict[str, int] = {}
        for org in self.api_keys.values():
            orgs[org] = orgs.get(org, 0) + 1
        return {"keys_per_organization": orgs}


_DATA: weakref.WeakKeyDictionary[SandboxState, ObzvonilkaData] = weakref.WeakKeyDictionary()


def data_of(state: SandboxState) -> ObzvonilkaData:
    if state not in _DATA:
        _DATA[state] = ObzvonilkaData()
    return _DATA[state]
