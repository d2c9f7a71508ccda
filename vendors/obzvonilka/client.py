"""Obzvonilka REST API client: contact bases, contacts, users.

Contract: ../shared/vendor-docs/obzvonilka-rest-api.txt. Every path ends in `.json`;
contacts are written as form fields `contact[name]`, `contact[phone1]`, ...

Auth: the doc allows the key as a GET/POST parameter or as an HTTP header. We send the
header (`X-API-KEY`, the name the vendor's published article gives) and never the
parameter: a key in the URL would ride along in every transport error message
(requests puts the URL in them) and in proxy logs.

Answers the doc does not define are read defensively: a redirect (a web app sending an
unknown key to its login page) is an AuthError; a 2xx that is not the JSON object or
array the call expects is VendorRejected; `find_by_external` answering 404 or `null`
means "no such contact".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from vendors import errors
from vendors.http import DEFAULT_TIMEOUT_S, VendorHttp, body_of, raise_for_status
from vendors.surprises import unexpected

from . import VENDOR
from .models import Contact, ContactBase, ContactFields, User
API_KEY_HEADER = "X-API-KEY"

BASES_PATH = "/api/contact_bases.json"
BASE_PATH = "/api/contact_bases/{base_id}.json"
CONTACTS_PATH = "/api/contact_bases/{base_id}/contacts.json"
CONTACT_PATH = "/api/contact_bases/{base_id}/contacts/{contact_id}.json"
FIND_BY_EXTERNAL_PATH = "/api/contact_bases/{base_id}/contacts/find_by_external/{code}.json"
USERS_PATH = "/api/users.json"
USER_PATH = "/api/users/{user_id}.json"

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class ObzvonilkaClient:
    """Plain HTTP over a caller-owned session; no retries here (the task layer decides)."""

    def __init__(
        self,
        api_key: SecretStr,
        *,
        base_url: str,
        session: requests.Session,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
    ) -> None:
        headers = {API_KEY_HEADER: api_key.get_secret_value(), "Accept": "application/json"}
        self._http = VendorHttp(VENDOR, base_url=base_url, session=session, headers=headers, timeout_s=timeout_s)

    # --- contact bases (read only: the doc says adding and changing them is not supported)

    def list_contact_bases(self) -> list[ContactBase]:
        return self._list(ContactBase, self._call("GET", BASES_PATH))

    def get_contact_base(self, base_id: int) -> ContactBase:
        return self._one(ContactBase, self._call("GET", BASE_PATH.format(base_id=_id(base_id))))

    # --- contacts of a base

    def list_contacts(self, base_id: int) -> list[Contact]:
        """The whole list of the base's contacts (the doc defines no paging)."""
        return self._list(Contact, self._call("GET", CONTACTS_PATH.format(base_id=_id(base_id))))

    def get_contact(self, base_id: int, contact_id: int) -> Contact:
        path = CONTACT_PATH.format(base_id=_id(base_id), contact_id=_id(contact_id))
        return self._one(Contact, self._call("GET", path))

    def find_contact_by_external_code(self, base_id: int, external_code: str) -> Contact | None:
        """The contact loaded with this external code, or None when the base has none."""
        code = external_code.strip()
        if not code:
            raise ValueError("external_code must not be empty")
        # safe="": a `/` or `?` in a code must stay inside its path segment
        path = FIND_BY_EXTERNAL_PATH.format(base_id=_id(base_id), code=quote(code, safe=""))
        try:
            body = self._call("GET", path)
        except errors.ValidationError as exc:
            if exc.status == 404:
                return None
            raise
        return None if body is None else self._one(Contact, body)

    def create_contact(self, base_id: int, contact: ContactFields) -> Contact:
        """POST the contact as `contact[...]` form fields; returns the contact as created."""
        body = self._call("POST", CONTACTS_PATH.format(base_id=_id(base_id)), data=contact.form())
        return self._one(Contact, body)

    def update_contact(self, base_id: int, contact_id: int, contact: ContactFields) -> Contact | None:
        """PATCH only the fields set in `contact`; the contact as updated, or None on 204 No Content."""
        path = CONTACT_PATH.format(base_id=_id(base_id), contact_id=_id(contact_id))
        body = self._call("PATCH", path, data=contact.form(), empty_ok=True)
        return None if body is None else self._one(Contact, body)

    # --- users of the key's organization (read only)

    def list_users(self) -> list[User]:
        return self._list(User, self._call("GET", USERS_PATH))

    def get_user(self, user_id: int) -> User:
        return self._one(User, self._call("GET", USER_PATH.format(user_id=_id(user_id))))

    # --- plumbing

    def _call(self, method: str, path: str, *, data: dict[str, str] | None = None, empty_ok: bool = False) -> Any:
        response = self._http.send(method, path, data=data, allow_redirects=False)
        if 300 <= response.status_code < 400:
            raise errors.AuthError(
                f"redirected to {response.headers.get('Location', '?')} (wrong api key?)",
                vendor=VENDOR, status=response.status_code, headers=dict(response.headers),
            )
        raise_for_status(response, VENDOR)
        if response.status_code == 204 or (empty_ok and not response.content.strip()):
            return None
        body = body_of(response)
        if isinstance(body, str):  # body_of gives the text when it is not JSON
            return unexpected(VENDOR, path, "the answer is not JSON", body)
        return body

    @staticmethod
    def _one(model: type[M], body: Any) -> M | Any:
        if not isinstance(body, dict):
            return unexpected(VENDOR, model.__name__, f"expected a JSON object, got {type(body).__name__}", body)
        return _validated(lambda: model.model_validate(body), body, model.__name__)

    @staticmethod
    def _list(model: type[M], body: Any) -> list[M] | Any:
        if not isinstance(body, list):
            return unexpected(VENDOR, f"list of {model.__name__}", f"expected a JSON array, got {type(body).__name__}",
                              body)
        return _validated(lambda: TypeAdapter(list[model]).validate_python(body), body, f"list of {model.__name__}")


def _validated(parse: Callable[[], T], body: Any, what: str) -> T | Any:
    """Run a pydantic parse; after a 2xx another shape is the vendor's JSON as sent, never a failure."""
    try:
        return parse()
    except PydanticValidationError as exc:
        return unexpected(VENDOR, what, exc.errors()[0]["msg"], body)


def _id(value: int) -> int:
    # An id goes into the path: anything but a positive int would address another resource.
    if type(value) is not int or value <= 0:
        raise ValueError(f"ids are positive integers, got {value!r}")
    return value
