"""SalesScriptPrompter API v2 client: users, scripts, call records and custom fields.

Contract: ../shared/vendor-docs/salesscriptprompter-api-v2.txt
    GET <base>/<controller>/<method>?<params>     base: .../integration/apiv2
Every request is a GET with its parameters in the query string, as the doc writes them.
The API key goes in the `Key` header (which the doc allows), never in the URL: URLs end
up in logs and exception messages.

Errors: a reply `{"result": false, "errors": [...]}` is `VendorRejected` carrying the
reply in `.body`; HTTP errors map as everywhere (vendors.http).

`user/auth` "redirects to the main page": the client does not follow the redirect and
returns an `AuthRedirect` (status, where it points, whether a session cookie came with it).
The cookie itself is never returned: it is a login.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urljoin

import pydantic
import requests
from pydantic import SecretStr, TypeAdapter

from vendors import errors
from vendors.http import DEFAULT_TIMEOUT_S, VendorHttp, body_of, raise_for_status
from vendors.surprises import unexpected
from vendors.validation import describe

from .models import (
    AuthRedirect,
    CallRecord,
    CustomField,
    FieldChange,
    KeyCheck,
    NewField,
    ResultReply,
    Script,
    User,
)

VENDOR = "salesscriptprompter"
T = TypeVar("T")
_KEY_CHECK = TypeAdapter(KeyCheck)
_USERS = TypeAdapter(list[User])
_SCRIPTS = TypeAdapter(list[Script])
_FIELDS = TypeAdapter(list[CustomField])
_RESULT = TypeAdapter(ResultReply)
#: replies that carry secrets (the echoed key, users' auth tokens): never handed back raw
SECRET_REPLIES = frozenset({"user/check", "user/list"})


class SalesScriptPrompterClient:
    """Plain HTTP over a caller-owned session; no retries here (the task layer decides)."""

    def __init__(self, key: SecretStr, *, base_url: str, session: requests.Session,
                 timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S) -> None:
        self._http = VendorHttp(VENDOR, base_url=base_url, session=session, headers={"Key": key.get_secret_value()},
                                timeout_s=timeout_s)

    def check_key(self) -> KeyCheck:
        return self._get("user/check", _KEY_CHECK)

    def list_users(self) -> list[User]:
        return self._get("user/list", _USERS)

    def authorize(self, user_id: int, token: SecretStr) -> AuthRedirect:
        secret = token.get_secret_value()
        response = self._request("user/auth", {"id": user_id, "token": secret}, secret=secret, allow_redirects=False)
        self._raise_if_refused(response, body_of(response))
        location = response.headers.get("Location")
        return AuthRedirect(status=response.status_code, location=urljoin(response.url, location) if location else None,
                            session_started="Set-Cookie" in response.headers)

    def authorize_user(self, user_id: int) -> AuthRedirect:
        """user/auth for a user by id alone: the token is looked up with user/list, so it never
        has to travel in a task message."""
        for user in self.list_users():
            if user.id == user_id:
                return self.authorize(user_id, user.auth_token)
        raise errors.VendorRejected(f"no user {user_id} in user/list", vendor=VENDOR, body={"user_id": user_id})

    def list_scripts(self) -> list[Script]:
        return self._get("script/list", _SCRIPTS)

    def attach_call_record(self, call_id: int, url: str) -> ResultReply:
        record = CallRecord(id=call_id, url=url)
        return self._get("call/attach-record", _RESULT, record.model_dump())

    def list_fields(self) -> list[CustomField]:
        return self._get("field/list", _FIELDS)

    def create_field(self, field: NewField) -> ResultReply:
        return self._get("field/create", _RESULT, field.model_dump(exclude_none=True))

    def update_field(self, change: FieldChange) -> ResultReply:
        return self._get("field/update", _RESULT, change.model_dump(exclude_none=True))

    def delete_field(self, code: str) -> ResultReply:
        return self._get("field/delete", _RESULT, {"code": code})

    def _get(self, route: str, shape: TypeAdapter[T], params: dict[str, Any] | None = None) -> T:
        response = self._request(route, params or {})
        body = body_of(response)
        self._raise_if_refused(response, body)
        try:
            return shape.validate_python(body)
        except pydantic.ValidationError as exc:
            where = describe(exc, limit=3, whole="reply")
            if route in SECRET_REPLIES:
                # Not the documented shape, and the body may hold the key or users' tokens: kept out.
                raise errors.VendorRejected(f"unexpected reply to {route}: {where}", vendor=VENDOR,
                                            status=response.status_code) from None
            return unexpected(VENDOR, route, where, body)

    def _request(self, route: str, params: dict[str, Any], *, secret: str = "", **kwargs: Any) -> requests.Response:
        try:
            return self._http.send("GET", f"/{route}", params=params, **kwargs)
        except (errors.VendorConnectionError, errors.OutcomeUnknown) as exc:
            if not secret:
                raise
            # Transport messages quote the URL, whose query holds the user's token.
            raise type(exc)(_redact(exc.message, secret), vendor=VENDOR) from None

    @staticmethod
    def _raise_if_refused(response: requests.Response, body: Any) -> None:
        raise_for_status(response, VENDOR)
        if isinstance(body, dict) and body.get("result") is False:
            reasons = "; ".join(map(str, body.get("errors") or [])) or "no reason given"
            raise errors.VendorRejected(f"result is false: {reasons[:300]}", vendor=VENDOR,
                                        status=response.status_code, body=body)


def _redact(text: str, secret: str) -> str:
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        text = text.replace(form, "***")
    return text
