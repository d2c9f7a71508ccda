"""The publishing side of tasks/secretrefs.py: secrets out of the message, into Redis with a TTL.

`SecretRefAMQP` is the Celery `amqp` class of every telequeue app (workers.app, the client app):
it swaps each secret field of an operation's kwargs for a reference before Celery builds the
message, its `kwargsrepr` and the task-sent event, so none of them ever holds the value.
"""

from __future__ import annotations

import secrets as random_ids
from typing import Any, Callable

import redis
from celery.app.amqp import AMQP

from tasks.catalog import load_for
from tasks.operations import OPERATIONS
from tasks.secretrefs import REF_PREFIX, is_ref
from workers.redis.connection import client_for, get_keys, get_redis
from workers.redis.keys import Keys
from workers.settings import get_settings


class SecretStore:
    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_s: int) -> None:
        self._r, self._keys, self._ttl_s = client, keys, ttl_s

    def put(self, value: str) -> str:
        ref = REF_PREFIX + random_ids.token_urlsafe(18)
        self._r.set(self._keys.secret(ref.removeprefix(REF_PREFIX)), value, ex=self._ttl_s)
        return ref

    def get(self, ref: str) -> str | None:
        raw = self._r.get(self._keys.secret(ref.removeprefix(REF_PREFIX)))
        return None if raw is None else raw.decode()

    def delete(self, refs: list[str]) -> None:
        if refs:
            self._r.delete(*(self._keys.secret(ref.removeprefix(REF_PREFIX)) for ref in refs))


def secret_store() -> SecretStore:
    """The worker's store, from its settings."""
    return SecretStore(get_redis(), get_keys(), ttl_s=get_settings().secret_ttl_s)


def by_reference(task_name: str, kwargs: dict[str, Any] | None, store: Callable[[], SecretStore]
                 ) -> dict[str, Any] | None:
    """`kwargs` with the operation's secret fields stored and replaced by references."""
    load_for(task_name)  # the operation's own module declares its secret fields
    op = OPERATIONS.get(task_name)
    if not kwargs or op is None or not op.secrets:
        return kwargs
    fields = [name for name in op.secrets if isinstance(kwargs.get(name), str) and not is_ref(kwargs[name])]
    if not fields:
        return kwargs
    secrets = store()
    return {**kwargs, **{name: secrets.put(kwargs[name]) for name in fields}}


class SecretRefAMQP(AMQP):
    """Stores secrets in the Redis of the app's own settings (`celery_config` puts them in its conf)."""

    def as_task_v2(self, task_id, name, args=None, kwargs=None, *rest, **options):
        return super().as_task_v2(task_id, name, args, by_reference(name, kwargs, self._store), *rest, **options)

    def _store(self) -> SecretStore:
        conf = self.app.conf
        client = _redis(conf.telequeue_secrets_backend)
        return SecretStore(client, Keys(conf.telequeue_secrets_prefix), ttl_s=conf.telequeue_secrets_ttl_s)


def _redis(url: str) -> redis.Redis:
    # the process's own client of that URL: a Sentinel URL works, and Redis outages are ridden out
    return client_for(url)
