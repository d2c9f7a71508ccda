"""2xx replies whose shape the code did not expect: reported, never turned into failures.

After a 2xx the vendor has done what it was asked; refusing its answer because of its shape
would invite a second, duplicate send. A client hands the raw JSON back and reports the
surprise here. The default reporter logs one line (vendor, what was expected, why, and the
keys seen, never values); the worker installs one that also counts it for /metrics.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

log = logging.getLogger(__name__)

Reporter = Callable[[str, str, str], None]


def _log_only(vendor: str, what: str, why: str) -> None:
    log.warning("%s: unexpected reply shape for %s (%s); returned as the vendor sent it", vendor, what, why)


_reporter: Reporter = _log_only


def install(reporter: Reporter) -> None:
    """`reporter(vendor, what, why)` is called once per unexpected reply."""
    global _reporter
    _reporter = reporter


def unexpected(vendor: str, what: str, why: str, body: Any) -> Any:
    """Report the surprise and return `body` unchanged: the caller's result is the vendor's JSON."""
    try:
        _reporter(vendor, what, f"{why}; keys seen: {keys_of(body)}")
    except Exception:  # counting must never turn a vendor success into a failure
        log.exception("reporting an unexpected %s reply failed", vendor)
    return body


def keys_of(body: Any) -> str:
    """What the body holds, by key names and types only: values may be secrets."""
    if isinstance(body, dict):
        return ", ".join(sorted(map(str, body))) or "(empty object)"
    if isinstance(body, list):
        return f"a list of {len(body)}"
    return type(body).__name__


__all__ = ["install", "keys_of", "unexpected"]
