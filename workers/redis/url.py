"""Redis URLs with a password: one place that hides it and one form that every tool masks.

`redis://:pw@host/0` and `redis://host/0?password=pw` mean the same to redis-py, but Celery,
kombu and most log lines mask only the first. Settings therefore move a `?password=` into the
URL's user info (`canonical`), and every output of ours goes through `masked`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MASK = "***"


def canonical(url: str) -> str:
    """The same URL with a `password` query parameter moved into the user info."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    password = next((value for name, value in query if name == "password"), None)
    if password is None or parts.password:
        return url
    user = quote(parts.username or "", safe="")
    rest = [(name, value) for name, value in query if name != "password"]
    netloc = f"{user}:{quote(password, safe='')}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(rest), parts.fragment))


def masked(url: str | None) -> str | None:
    """The URL with any password (user info or `?password=`) replaced by ***."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    query = "&".join(f"{name}={MASK}" if name == "password" else f"{name}={value}" if value or "=" in pair else name
                     for pair in parts.query.split("&") if pair
                     for name, _, value in [pair.partition("=")])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
