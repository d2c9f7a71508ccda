"""One exception hierarchy for every vendor client.

    VendorError                    vendor, status, body, headers
    ├── TransientVendorError       worth retrying: the row may still go through
    │   ├── OutcomeUnknown         sent, but no answer: the vendor may have applied it
    │   │   ├── VendorTimeout      no (complete) answer in time
    │   │   └── VendorServerError  5xx: a gateway's 502/504 can follow a request the vendor applied
    │   ├── VendorConnectionError  never reached the vendor: nothing was sent
    │   ├── VendorNotProcessed     408, 425: the vendor says it did not take the request
    │   └── RateLimited            429, with retry_after_s
    │       └── VendorUnavailable  503 with Retry-After: not taken now, come back then
    └── PermanentVendorError       retrying the same request cannot help
        ├── AuthError              401/403: wrong key or project
        ├── ValidationError        other 4xx: the vendor rejected the request
        └── VendorRejected         HTTP 2xx but `result: false` (or an `errors` list)

Transport exceptions are converted at the client boundary (`raise X(...) from exc`),
so nothing from requests/urllib3 leaks out of `vendors`.
"""

from __future__ import annotations

from typing import Any


class VendorError(Exception):
    """Base of every vendor failure; carries what the vendor said."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        status = f" HTTP {self.status}" if self.status is not None else ""
        return f"{self.vendor}{status}: {self.message}"

    def __reduce__(self):  # keep pickling (Celery results, multiprocessing) lossless
        kwargs = {"vendor": self.vendor, "status": self.status, "body": self.body, "headers": self.headers}
        return (_rebuild, (type(self), self.message, kwargs, getattr(self, "retry_after_s", None)))


def _rebuild(cls, message, kwargs, retry_after_s):
    if issubclass(cls, RateLimited):
        return cls(message, retry_after_s=retry_after_s, **kwargs)
    return cls(message, **kwargs)


class TransientVendorError(VendorError):
    """The same request may succeed later."""


class OutcomeUnknown(TransientVendorError):
    """Sent, but the answer never came (connection lost after sending, or a timeout):
    sending again may duplicate it, and is counted as such."""


class VendorTimeout(OutcomeUnknown):
    """Sent, but no answer in time: the vendor may or may not have applied it."""


class VendorConnectionError(TransientVendorError):
    """The request never reached the vendor."""


class VendorServerError(OutcomeUnknown):
    """The vendor answered 5xx (other than a 503 with Retry-After). A gateway's 502 or 504 can
    come after the vendor behind it applied the request, so sending again may duplicate it."""


class VendorNotProcessed(TransientVendorError):
    """408 or 425: the vendor says it did not process the request; sending it again is safe."""


class RateLimited(TransientVendorError):
    """The vendor answered 429; `retry_after_s` is how long it asked us to wait."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s


class VendorUnavailable(RateLimited):
    """503 with Retry-After: the vendor did not take the request and says when to come back."""


def transient_for_status(status: int, message: str, *, retry_after_s: float | None, **kwargs: Any) -> VendorError | None:
    """The error for a status that is worth retrying (429, 5xx, 408, 425), or None: one mapping
    for every client, so a status means the same whichever vendor sent it."""
    if status == 429:
        return RateLimited(message, retry_after_s=retry_after_s, status=status, **kwargs)
    if status == 503 and retry_after_s is not None:
        return VendorUnavailable(message, retry_after_s=retry_after_s, status=status, **kwargs)
    if status >= 500:
        return VendorServerError(message, status=status, **kwargs)
    if status in (408, 425):
        return VendorNotProcessed(message, status=status, **kwargs)
    return None


class PermanentVendorError(VendorError):
    """Retrying the same request cannot help; the row needs a human."""


class AuthError(PermanentVendorError):
    """401/403: the account's key or project is wrong."""


class ValidationError(PermanentVendorError):
    """Another 4xx: the vendor refused this request's content."""


class VendorRejected(PermanentVendorError):
    """HTTP success, but the body says `result: false`."""


__all__ = [
    "AuthError",
    "OutcomeUnknown",
    "PermanentVendorError",
    "RateLimited",
    "TransientVendorError",
    "ValidationError",
    "VendorConnectionError",
    "VendorError",
    "VendorNotProcessed",
    "VendorRejected",
    "VendorServerError",
    "VendorTimeout",
    "VendorUnavailable",
    "transient_for_status",
]
