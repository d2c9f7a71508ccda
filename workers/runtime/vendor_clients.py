"""How a worker builds each vendor's client from settings: credentials stay on this side.

One builder per vendor: (vendor settings, account settings, HTTP session, Redis client, account
name) -> that vendor's API client. The Redis client holds shared state some vendors need
(Pozvonim's tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
import requests

from vendors.obzvonilka import ObzvonilkaClient
from vendors.pozvonim import PozvonimClient, PozvonimCredentials
from vendors.ringostat import RingostatApi, RingostatCredentials  # RingostatApi: the Power Dialer client, plus .minicrm
from vendors.salesscriptprompter import SalesScriptPrompterClient
from workers.redis.connection import get_keys
from workers.runtime.tokens import token_store
from workers.settings import Settings, vendor_account

Builder = Callable[[Any, Any, requests.Session, redis.Redis, str], Any]


def _timeouts(conf) -> tuple[float, float, float]:
    return (conf.connect_timeout_s, conf.read_timeout_s, conf.total_timeout_s)


def _ringostat(conf, account, session, redis_client, account_name):
    creds = RingostatCredentials(auth_key=account.auth_key, project_id=account.project_id)
    return RingostatApi(creds, base_url=conf.base_url, session=session, timeout_s=_timeouts(conf))


def _salesscriptprompter(conf, account, session, redis_client, account_name):
    return SalesScriptPrompterClient(account.key, base_url=conf.base_url, session=session, timeout_s=_timeouts(conf))


def _obzvonilka(conf, account, session, redis_client, account_name):
    return ObzvonilkaClient(account.api_key, base_url=conf.base_url, session=session, timeout_s=_timeouts(conf))


def _pozvonim(conf, account, session, redis_client, account_name):
    # One token per account (or per account and egress IP), shared by every worker (see workers/runtime/tokens.py).
    store = token_store(redis_client, get_keys(), account_name, scope=conf.token_scope, base_url=conf.base_url)
    creds = PozvonimCredentials(uid=account.uid, api_key=account.api_key)
    return PozvonimClient(creds, base_url=conf.base_url, session=session, token_store=store,
                          refresh_margin_s=conf.token_refresh_margin_s, timeout_s=_timeouts(conf),
                          all_post=conf.all_post)


BUILDERS: dict[str, Builder] = {
    "ringostat": _ringostat,
    "salesscriptprompter": _salesscriptprompter,
    "obzvonilka": _obzvonilka,
    "pozvonim": _pozvonim,
}


def build_client(settings: Settings, vendor: str, account_name: str, session: requests.Session,
                 redis_client: redis.Redis) -> Any:
    try:
        builder = BUILDERS[vendor]
    except KeyError:
        raise ValueError(f"no client builder for vendor {vendor!r}") from None
    conf = settings.vendor(vendor)
    return builder(conf, vendor_account(vendor, account_name, settings), session, redis_client, account_name)
