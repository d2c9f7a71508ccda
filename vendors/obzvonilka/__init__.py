"""Obzvonilka REST API (../shared/vendor-docs/obzvonilka-rest-api.txt): contact bases, contacts, users.

    client.py   ObzvonilkaClient, the paths
    models.py   the resources as the doc lists their attributes

The client loads at its first use (`from vendors.obzvonilka import ObzvonilkaClient` as
before): it imports requests (~50-70 ms), and what a load's checks and chunk messages need
of this package is its models and its name (BENCHMARKS.md, "Issue 11, fourth session").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendors.lazy import lazy_names

from .models import Contact, ContactBase, ContactFields, User

#: the vendor's name in settings, task names and limiter keys (here, not in client.py: a load needs it, not requests)
VENDOR = "obzvonilka"

if TYPE_CHECKING:
    from .client import (
        API_KEY_HEADER, BASE_PATH, BASES_PATH, CONTACT_PATH, CONTACTS_PATH, FIND_BY_EXTERNAL_PATH, USER_PATH,
        USERS_PATH, ObzvonilkaClient,
    )

#: the names that live in the client module
_CLIENT_NAMES = dict.fromkeys(("API_KEY_HEADER", "BASE_PATH", "BASES_PATH", "CONTACT_PATH", "CONTACTS_PATH",
                               "FIND_BY_EXTERNAL_PATH", "USER_PATH", "USERS_PATH", "ObzvonilkaClient"), ".client")

# lazy: the client imports requests, which a load's checks never need (module docstring)
__getattr__ = lazy_names(__name__, _CLIENT_NAMES)


__all__ = [
    "API_KEY_HEADER", "BASE_PATH", "BASES_PATH", "CONTACT_PATH", "CONTACTS_PATH", "FIND_BY_EXTERNAL_PATH", "USER_PATH",
    "USERS_PATH", "VENDOR",
    "Contact", "ContactBase", "ContactFields", "ObzvonilkaClient", "User",
]
