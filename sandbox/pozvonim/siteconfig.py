"""The site settings every site create/update carries, checked as the doc lists them.

Starred (required) in the doc: site[url], managers[N][phone], the whole working-hours
schedule (7 days x from/to/enable), every catch algorithm's time/enable, and the
blacklists[] group. Unknown parameters are refused, so a client typo shows up in tests.
Values are normalised: flags to booleans (answered as true/false), numbers to integers.

An update (`merge_change`) changes only the parameters it carries and keeps the rest: every
parameter sent is checked as above, none is required; `managers`, when sent, is the new list.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .query import flag, integer, items, text
from .wire import invalid

Parser = Callable[[Any, str], Any]
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIMED_ALGORITHMS = ("onenter", "onexit", "onwait")
_PHONE = re.compile(r"^\+?\d{10,15}$")


def phone(value: Any, name: str) -> str:
    number = text(value, name).strip()
    if not _PHONE.match(number):
        raise invalid(f"{name} must be a phone number of 10-15 digits")
    return number


def _lines(value: Any, name: str) -> str:
    return text(value, name)


def _strings(value: Any, name: str) -> list[str]:
    return [text(item, f"{name}[]") for item in items(value, name)]


SITE: dict[str, Parser] = {
    "url": text, "manager_rule": integer, "manager_region_enable": flag, "report_email": text,
    "report_period": integer, "report_analytic": flag, "auto_payment": flag, "phone_for_client": integer,
    "phone_for_manager": integer, "notification_email": text, "notification_phone": text,
    "notification_type": integer, "notification_notify": _strings,
}
MANAGER: dict[str, Parser] = {"phone": phone, "name": text, "region": integer}
WIDGET: dict[str, Parser] = {
    "mobile_enable": flag, "period": integer, "schelude_night": flag, "api_enable": flag, "api_callback": text,
    "timezone": text, "timezone_auto": flag, "tracking_google_enable": flag, "tracking_yandex_enable": flag,
    "tracking_yandex_target": text, "tracking_google_target": text, "schelude_call_delay": integer,
    "button": flag, "button_display": integer, "button_position": integer, "button_position_y": integer,
    "button_position_x": integer, "window_position": integer, "call_time": integer, "phone_prefix": text,
}
DAY: dict[str, Parser] = {"from": integer, "to": integer, "enable": flag}
TIMED: dict[str, Parser] = {"time": integer, "enable": flag}
TOGGLE: dict[str, Parser] = {"enable": flag}
BLACKLISTS: dict[str, Parser] = {"ip": _lines, "url": _lines, "phone": _lines, "referer": _lines}


def group(raw: Any, fields: dict[str, Parser], name: str, required: tuple[str, ...] = (),
          nested: dict[str, Callable[[Any, str], Any]] | None = None) -> dict[str, Any]:
    nested = nested or {}
    if not isinstance(raw, dict):
        raise invalid(f"{name} is required")
    unknown = sorted(set(raw) - set(fields) - set(nested))
    if unknown:
        raise invalid(f"unknown parameter {name}[{unknown[0]}]")
    missing = [key for key in required if key not in raw]
    if missing:
        raise invalid(f"{name}[{missing[0]}] is required")
    out = {key: fields[key](value, f"{name}[{key}]") for key, value in raw.items() if key in fields}
    out.update({key: parse(raw.get(key), f"{name}[{key}]") for key, parse in nested.items()})
    return out


def _schedule(raw: Any, name: str) -> dict[str, Any]:
    days = {day: (lambda value, where: group(value, DAY, where, required=tuple(DAY))) for day in DAYS}
    return group(raw, {}, name, nested=days)


def _algorithms(raw: Any, name: str) -> dict[str, Any]:
    timed = {key: (lambda value, where: group(value, TIMED, where, required=tuple(TIMED))) for key in TIMED_ALGORITHMS}
    return group(raw, {}, name, nested={**timed, "onreturn": lambda value, where: group(value, TOGGLE, where,
                                                                                        required=("enable",))})


def _managers(raw: Any, name: str) -> list[dict[str, Any]]:
    managers = items(raw, name)
    if not managers:
        raise invalid(f"{name}[0][phone] is required")
    return [group(manager, MANAGER, f"{name}[{index}]", required=("phone",)) for index, manager in enumerate(managers)]


def parse_config(params: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """{"site", "managers", "widget", "blacklists"} from request params (`extra`: other allowed names)."""
    unknown = sorted(set(params) - {"site", "managers", "widget", "blacklists", *extra})
    if unknown:
        raise invalid(f"unknown parameter {unknown[0]}")
    site = group(params.get("site"), SITE, "site", required=("url",))
    if not site["url"].strip():
        raise invalid("site[url] must not be empty")
    return {
        "site": site,
        "managers": _managers(params.get("managers"), "managers"),
        "widget": group(params.get("widget"), WIDGET, "widget",
                        nested={"schelude": _schedule, "algoritms": _algorithms}),
        "blacklists": group(params.get("blacklists"), BLACKLISTS, "blacklists"),
    }


def _partial(raw: Any, fields: dict[str, Parser], name: str, nested: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters sent in one group, checked, none required; nested groups likewise."""
    nested = nested or {}
    if not isinstance(raw, dict):
        raise invalid(f"{name} must be a group of parameters")
    unknown = sorted(set(raw) - set(fields) - set(nested))
    if unknown:
        raise invalid(f"unknown parameter {name}[{unknown[0]}]")
    out = {key: fields[key](value, f"{name}[{key}]") for key, value in raw.items() if key in fields}
    out.update({key: nested[key](value, f"{name}[{key}]") for key, value in raw.items() if key in nested})
    return out


def _schedule_change(raw: Any, name: str) -> dict[str, Any]:
    return _partial(raw, {}, name, {day: lambda value, where: _partial(value, DAY, where) for day in DAYS})


def _algorithms_change(raw: Any, name: str) -> dict[str, Any]:
    timed = {key: (lambda value, where: _partial(value, TIMED, where)) for key in TIMED_ALGORITHMS}
    return _partial(raw, {}, name, {**timed, "onreturn": lambda value, where: _partial(value, TOGGLE, where)})


def _deep_merge(current: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in change.items():
        merged[key] = _deep_merge(current.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def merge_change(config: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """`config` with the parameters of an update applied; what the update does not carry stays."""
    unknown = sorted(set(params) - {"site", "managers", "widget", "blacklists"})
    if unknown:
        raise invalid(f"unknown parameter {unknown[0]}")
    change: dict[str, Any] = {}
    if "site" in params:
        change["site"] = _partial(params["site"], SITE, "site")
        if "url" in change["site"] and not change["site"]["url"].strip():
            raise invalid("site[url] must not be empty")
    if "widget" in params:
        change["widget"] = _partial(params["widget"], WIDGET, "widget",
                                    {"schelude": _schedule_change, "algoritms": _algorithms_change})
    if "blacklists" in params:
        change["blacklists"] = _partial(params["blacklists"], BLACKLISTS, "blacklists")
    merged = _deep_merge(config, change)
    if "managers" in params:
        merged["managers"] = _managers(params["managers"], "managers")
    return merged
