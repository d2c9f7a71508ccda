"""pydantic's validation errors as one readable line, for messages and reports."""

from __future__ import annotations

import pydantic


def describe(exc: pydantic.ValidationError, *, limit: int = 5, whole: str = "") -> str:
    """`field.path: message; ...` for the first `limit` problems; `whole` names the object
    itself for an error that has no field path."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}" for e in exc.errors()[:limit])
