"""Queue per vendor account: waiting on one account's limit never holds another's workers.

The default account of a vendor uses the vendor's own queue (`ringostat`); another account
gets `ringostat.<account>`, served by workers started with `-Q ringostat.<account>`.
Tasks of no vendor (today only Celery's own housekeeping) go to `bulk`. Producers run in
the CLI or the calling app, not on a queue; a `bulk` worker still matters: like every
worker it runs the deferred-retry mover, and it stays up when vendor workers scale to zero.
"""

from __future__ import annotations

VENDORS = ("ringostat", "pozvonim", "obzvonilka", "salesscriptprompter")
BULK_QUEUE = "bulk"
DEFAULT_ACCOUNT = "default"


def queue_for(vendor: str, account: str = DEFAULT_ACCOUNT) -> str:
    return vendor if account == DEFAULT_ACCOUNT else f"{vendor}.{account}"


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router (task_routes): `<vendor>.<resource>.<action>` goes to its account's queue."""
    vendor = name.split(".", 1)[0]
    if vendor not in VENDORS:
        return {"queue": BULK_QUEUE}
    account = (kwargs or {}).get("account") or DEFAULT_ACCOUNT
    return {"queue": queue_for(vendor, account)}
