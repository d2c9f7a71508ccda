"""PHP's view of request parameters: parse_str into nested arrays, http_build_query back.

The vendor (PHP) verifies `sign` by rebuilding the string from the parameters it parsed:
md5(token . http_build_query(ksort($params without sign))). This is an implementation of
its own, independent of vendors/pozvonim/signing.py, so the two must agree byte for byte.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl

from .wire import invalid

Nested = dict[str, Any]
_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".encode())
_SUBKEYS = re.compile(r"\[([^\]]*)\]")


def urlencode(text: str) -> str:
    return "".join(chr(b) if b in _SAFE else "+" if b == 32 else "%%%02X" % b for b in text.encode("utf-8"))


def pairs_of(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True, errors="strict")


def parse_php(pairs: list[tuple[str, str]]) -> Nested:
    """`a[b][0]=x` -> {"a": {"b": {"0": "x"}}}; `a[]=` appends; a repeated name keeps its first place."""
    params: Nested = {}
    for name, value in pairs:
        top, _, rest = name.partition("[")
        keys = [top] + (_SUBKEYS.findall("[" + rest) if rest else [])
        node = params
        for depth, key in enumerate(keys):
            if key == "":
                key = str(len(node))  # PHP's push: the next index
            if depth == len(keys) - 1:
                node[key] = value
            else:
                if not isinstance(node.get(key), dict):
                    node[key] = {}  # a plain value under this name gives way to the array, as in PHP
                node = node[key]
    return params


def build_query(params: Nested) -> str:
    return "&".join(f"{urlencode(name)}={urlencode(value)}" for name, value in _leaves(params, None))


def _leaves(node: Any, prefix: str | None):
    for key, value in node.items():
        name = key if prefix is None else f"{prefix}[{key}]"
        if isinstance(value, dict):
            yield from _leaves(value, name)
        else:
            yield name, value


def expected_sign(token: str, params: Nested) -> str:
    """md5(token . http_build_query(ksort(params))): ksort is shallow, nested order stays."""
    ordered = {key: params[key] for key in sorted(params) if key != "sign"}
    return hashlib.md5((token + build_query(ordered)).encode("utf-8")).hexdigest()


# Values, as the vendor reads them.

def flag(value: Any, name: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true"):
        return True
    if text in ("0", "false", ""):
        return False
    raise invalid(f"{name} must be 1/0 (TRUE/FALSE)")


def integer(value: Any, name: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
        return int(value)
    raise invalid(f"{name} must be an integer")


def text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid(f"{name} must be a plain value, not an array")
    return value


def items(value: Any, name: str) -> list[Any]:
    """A PHP array given as name[0]=..&name[1]=.. (or a single plain value) as a list."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def ints(value: Any, name: str) -> list[int]:
    return [integer(item, f"{name}[]") for item in items(value, name)]
