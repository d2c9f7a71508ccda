"""Pozvonim's answers onto the shared error tree (vendors/errors.py).

The doc: every status other than 200, 201, 202, 204 is an error, with the body
    {"error": {"code": "GEN-SERVER-ERROR", "http_code": 502, "message": "Oops something wrong!"}}

    429, 5xx, 408, 425  as every vendor's (vendors.errors.transient_for_status): 429 and a 503
                        with Retry-After wait as asked, other 5xx are an unknown outcome
    401, 403, or an     TokenRejected: the token expired, was replaced, or belongs to another
    error code naming   IP; the client fetches a new one and retries once (a wrong api key or
    the token           uid then fails at auth/token itself, as AuthError)
    other 4xx           ValidationError
    anything else       VendorRejected (a 2xx/3xx the doc does not list as success)
"""

from __future__ import annotations

from typing import Any

import requests

from vendors import errors
from vendors.http import body_of, retry_after_s

VENDOR = "pozvonim"
SUCCESS_STATUSES = frozenset({200, 201, 202, 204})


class TokenRejected(errors.AuthError):
    """401, 403 or a code naming the token: this token is no longer good here; a new one may be."""


def error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from the doc's error shape, tolerating anything else."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return _text(error.get("code")), _text(error.get("message"))
    if isinstance(body, str) and body:
        return None, body[:300]
    return None, None


def raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if status in SUCCESS_STATUSES:
        return
    body = body_of(response)
    code, message = error_fields(body)
    text = ": ".join(part for part in (code, message) if part) or response.reason or "error"
    transient = errors.transient_for_status(status, text, retry_after_s=retry_after_s(response.headers),
                                            vendor=VENDOR, body=body, headers=dict(response.headers))
    if transient is not None:
        raise transient
    kwargs = {"vendor": VENDOR, "status": status, "body": body, "headers": dict(response.headers)}
    if status in (401, 403) or (status < 500 and "TOKEN" in (code or "").upper()):
        raise TokenRejected(text, **kwargs)
    if 400 <= status < 500:
        raise errors.ValidationError(text, **kwargs)
    raise errors.VendorRejected(f"unexpected HTTP {status}: {text}", **kwargs)


def _text(value: Any) -> str | None:
    return str(value)[:300] if value not in (None, "") else None


__all__ = ["SUCCESS_STATUSES", "VENDOR", "TokenRejected", "error_fields", "raise_for_status"]
