"""Secrets a caller supplies (a new contributor's password) travel by reference.

The publishing side (workers/runtime/secret_store.py) keeps the value in Redis under a random id with a
TTL and puts only `tq-secret:<id>` in the message, so the broker, task events, Flower, the
result backend, the deferred set and logs never see it. Here the worker resolves the reference
for the vendor request and deletes the value once the operation has succeeded.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from tasks.base import InvalidPayload
from tasks.runtime import current

REF_PREFIX = "tq-secret:"


def is_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(REF_PREFIX)


class SecretGone(InvalidPayload):
    """The reference expired, or the value was deleted after an earlier success."""


@contextmanager
def resolve_secrets(task_name: str, fields: tuple[str, ...], kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`kwargs` with each secret field's reference replaced by its value; deleted after success."""
    if not fields:
        yield kwargs
        return
    store = current().secrets()
    resolved, refs = dict(kwargs), []
    for name in fields:
        value = kwargs.get(name)
        if value is None:
            continue
        if not is_ref(value):
            raise InvalidPayload(f"{task_name}: {name} must travel by reference: publish with the telequeue "
                                 f"app, workers.client or `telequeue send`, which keep it out of the message")
        secret = store.get(value)
        if secret is None:
            raise SecretGone(f"{task_name}: {name}: reference {value} expired or already used")
        resolved[name], refs = secret, [*refs, value]
    yield resolved
    store.delete(refs)
