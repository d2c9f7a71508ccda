"""Obzvonilka REST API (../shared/vendor-docs/obzvonilka-rest-api.txt): contact bases, contacts, users.

    client.py   ObzvonilkaClient, the paths
    models.py   the resources as the doc lists their attributes
"""

from .client import (
    API_KEY_HEADER, BASE_PATH, BASES_PATH, CONTACT_PATH, CONTACTS_PATH, FIND_BY_EXTERNAL_PATH, USER_PATH, USERS_PATH,
    VENDOR, ObzvonilkaClient,
)
from .models import Contact, ContactBase, ContactFields, User

__all__ = [
    "API_KEY_HEADER", "BASE_PATH", "BASES_PATH", "CONTACT_PATH", "CONTACTS_PATH", "FIND_BY_EXTERNAL_PATH", "USER_PATH",
    "USERS_PATH", "VENDOR",
    "Contact", "ContactBase", "ContactFields", "ObzvonilkaClient", "User",
]
