"""Pozvonim's two signatures, byte for byte as the doc's PHP example computes them.

Token request:  sign = md5(api_key + uid)            ("MD5 хеш от Ключа API и UID", in that order)
Every request:  sign = md5(token + http_build_query(ksort(params)))

    $input = ['uid' => 1, 'site_id' => 1, 'widget_id' => 52];
    ksort($input);
    $sign = md5($token . http_build_query($input));

So the md5 input is exactly what PHP's `http_build_query` returns for the top-level-sorted
parameters: nested arrays flattened to `site%5Burl%5D=...` (brackets URL-encoded too), list
items indexed from 0, keys and values encoded with `urlencode` (RFC 1738: space is `+`, every
byte but `A-Za-z0-9-_.` is `%XX`, `~` included), `true`/`false` as `1`/`0`, null and empty
arrays left out. `ksort` is shallow: nested keys keep their order, so the request must carry
the parameters in the very order they were signed (`signed_query` returns that string).
The token itself is never sent: the vendor looks it up by uid (and caller IP).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

# PHP urlencode leaves only these bytes alone (unlike Python's quote_plus, which also keeps `~`).
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def php_urlencode(text: str) -> str:
    """PHP's `urlencode` of a UTF-8 string."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def scalar(value: Any) -> str:
    """A leaf value as PHP would print it into a query string."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "1" if value else "0"
    if isinstance(value, datetime):
        raise TypeError("format datetimes before signing (DATETIME or ISO 8601 depends on the parameter)")
    if isinstance(value, (int, Decimal, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    raise TypeError(f"cannot put {type(value).__name__} into a Pozvonim query")


def flatten(params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, value) leaves of nested params in http_build_query's order, names unencoded."""
    for key, value in params.items():
        yield from _leaves(str(key), value)


def _leaves(name: str, value: Any) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(f"{name}[{key}]", item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _leaves(f"{name}[{index}]", item)
    else:
        yield name, scalar(value)


def build_query(params: Mapping[str, Any]) -> str:
    """PHP's `http_build_query($params)` (default separator `&`, PHP_QUERY_RFC1738)."""
    return "&".join(f"{php_urlencode(name)}={php_urlencode(value)}" for name, value in flatten(params))


def signed_query(params: Mapping[str, Any]) -> str:
    """`ksort` then `http_build_query`: the string that is both signed and sent."""
    return build_query({key: params[key] for key in sorted(params)})


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def request_sign(token: str, params: Mapping[str, Any]) -> str:
    """The `sign` of a request carrying `params` (uid included, sign excluded)."""
    return md5_hex(token + signed_query(params))


def token_sign(api_key: str, uid: str) -> str:
    """The `sign` of GET auth/token."""
    return md5_hex(f"{api_key}{uid}")


__all__ = ["build_query", "flatten", "md5_hex", "php_urlencode", "request_sign", "signed_query", "token_sign"]
