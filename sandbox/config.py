"""Sandbox configuration: faults, rate limits and known credentials.

The same shape is accepted from the CLI, from `make_app(config)` and from
`POST /_sandbox/config` (as a partial update), so validation lives here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PROJECT_ID = "123"
DEFAULT_AUTH_KEY = "sandbox-ringostat-key"
MASK = "***"


class ConfigError(ValueError):
    """A config update was rejected; the message is safe to show to the caller."""


@dataclass(frozen=True)
class RateLimit:
    """Steady `rate_per_s`; `burst` = how many requests may arrive back to back."""

    rate_per_s: float
    burst: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"rate_per_s": self.rate_per_s, "burst": self.burst}


@dataclass
class SandboxConfig:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    hang_rate: float = 0.0
    hang_s: float = 30.0
    seed: int | None = None
    # The next `apply_fault_count` applied writes (any vendor) are applied, then answered badly:
    # "hang" holds the answer hang_s, "502" answers Bad gateway. The outcome a client cannot know.
    apply_fault: str = ""
    apply_fault_count: int = 0
    # project id -> Auth-key; Ringostat's credentials, the first vendor's.
    projects: dict[str, str] = field(default_factory=lambda: {DEFAULT_PROJECT_ID: DEFAULT_AUTH_KEY})
    # account id (Ringostat project id) -> limit; absent means unlimited.
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)
    # Power Dialer campaigns that no longer take rows: a row for one gets 400, as a deleted or
    # finished campaign would (a permanent refusal, row by row).
    closed_campaigns: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The config as the control API shows it: keys are masked, never echoed."""
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "hang_rate": self.hang_rate,
            "hang_s": self.hang_s,
            "seed": self.seed,
            "apply_fault": self.apply_fault,
            "apply_fault_count": self.apply_fault_count,
            "projects": {project: MASK for project in self.projects},
            "rate_limits": {acc: limit.to_json() for acc, limit in self.rate_limits.items()},
            "closed_campaigns": list(self.closed_campaigns),
        }

    def merge(self, update: dict[str, Any]) -> set[str]:
        """Apply a partial update in place; returns the top-level keys changed.

        Validates everything before touching anything, so a bad update leaves
        the running config as it was.
        """
        if not isinstance(update, dict):
            raise ConfigError("config must be a JSON object")
        unknown = set(update) - _FIELDS
        if unknown:
            raise ConfigError(f"unknown config keys: {sorted(unknown)}")
        parsed = {key: _PARSERS[key](update[key]) for key in update}
        for key, value in parsed.items():
            if key in ("projects", "rate_limits"):
                _merge_mapping(getattr(self, key), value)
            else:
                setattr(self, key, value)
        return set(parsed)


def _merge_mapping(target: dict[str, Any], update: dict[str, Any]) -> None:
    # null removes an entry: the only way to drop the default project or a limit.
    for key, value in update.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def _number(name: str, low: float, high: float = math.inf):
    def parse(value: Any) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not low <= value <= high:
            raise ConfigError(f"{name} must be a number in [{low}, {high}]")
        return float(value)

    return parse


def _seed(value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ConfigError("seed must be an integer or null")
    return value


def _projects(value: Any) -> dict[str, str | None]:
    if not isinstance(value, dict):
        raise ConfigError("projects must be an object {project_id: auth_key}")
    for project, key in value.items():
        if key is not None and (not isinstance(key, str) or not key):
            raise ConfigError(f"projects[{project}] must be a non-empty string or null")
    return dict(value)


def parse_rate_limit(value: Any, where: str = "rate limit") -> RateLimit:
    if not isinstance(value, dict) or "rate_per_s" not in value:
        raise ConfigError(f"{where} must be an object {{rate_per_s, burst}}")
    rate_per_s = _number(f"{where}.rate_per_s", 0.0)(value["rate_per_s"])
    burst = value.get("burst", 1)
    if rate_per_s <= 0:
        raise ConfigError(f"{where}.rate_per_s must be > 0 (omit the limit for unlimited)")
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise ConfigError(f"{where}.burst must be an integer >= 1")
    return RateLimit(rate_per_s=rate_per_s, burst=burst)


def _rate_limits(value: Any) -> dict[str, RateLimit | None]:
    if not isinstance(value, dict):
        raise ConfigError("rate_limits must be an object {account: {rate_per_s, burst}}")
    return {
        str(acc): None if limit is None else parse_rate_limit(limit, f"rate_limits[{acc}]")
        for acc, limit in value.items()
    }


def _apply_fault(value: Any) -> str:
    if value not in APPLY_FAULTS:
        raise ConfigError(f"apply_fault must be one of {sorted(APPLY_FAULTS)}")
    return value


def _campaign_ids(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ConfigError("closed_campaigns must be a list of campaign ids")
    return list(value)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError("apply_fault_count must be an integer >= 0")
    return value


APPLY_FAULTS = frozenset({"", "hang", "502"})

_PARSERS = {
    "latency_ms": _number("latency_ms", 0.0),
    "error_rate": _number("error_rate", 0.0, 1.0),
    "hang_rate": _number("hang_rate", 0.0, 1.0),
    "hang_s": _number("hang_s", 0.0),
    "seed": _seed,
    "apply_fault": _apply_fault,
    "apply_fault_count": _count,
    "projects": _projects,
    "rate_limits": _rate_limits,
    "closed_campaigns": _campaign_ids,
}
_FIELDS = frozenset(_PARSERS)
