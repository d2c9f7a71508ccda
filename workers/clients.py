"""How a worker builds each vendor's client from settings: credentials stay on this side.

One builder per vendor: (vendor settings, account settings, session, redis) -> client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
import requests

from workers.settings import Settings, vendor_account

Builder = Callable[[Any, Any, requests.Session, redis.Redis, str], Any]


def _timeouts(conf) -> tuple[float, float]:
    return (conf.connect_timeout_s, conf.read_timeout_s)


def _ringostat(conf, account, session, client, account_name):
    from vendors.ringostat import RingostatClient, RingostatCredentials

    creds = RingostatCredentials(auth_key=account.auth_key, project_id=account.project_id)
    return RingostatClient(creds, base_url=conf.base_url, session=session, timeout_s=_timeouts(conf))


BUILDERS: dict[str, Builder] = {"ringostat": _ringostat}


def build_client(settings: Settings, vendor: str, account_name: str, session: requests.Session,
                 client: redis.Redis) -> Any:
    try:
        builder = BUILDERS[vendor]
    except KeyError:
        raise ValueError(f"no client builder for vendor {vendor!r}") from None
    conf = settings.vendor(vendor)
    return builder(conf, vendor_account(vendor, account_name, settings), session, client, account_name)
