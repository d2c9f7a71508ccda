"""The naive baseline: plain Celery, one task per row, one requests.post per task.

No ledger, no global limiter, no chunks: what one would write first. Celery defaults
apart from the broker (DB 14, a key prefix of the benchmark's own) and ignored results.
Each worker thread (or prefork child) keeps one keep-alive `requests.Session`, which
only makes the baseline faster than a bare `requests.post` with a new connection each.

    celery -A bench.naive_app worker -Q naive -P threads -c 8

Env: NAIVE_BROKER_URL, NAIVE_KEY_PREFIX, NAIVE_SANDBOX_URL, NAIVE_AUTH_KEY, NAIVE_PROJECT_ID,
NAIVE_RATE_LIMIT (Celery's own rate_limit of `naive.post_row_limited`, default "50/s").
"""

from __future__ import annotations

import os
import threading

import requests
from celery import Celery

QUEUE = "naive"
ROWS_PATH = "/ringostat/power-dialer/campaigns/campaign-rows"

app = Celery("naive", broker=os.environ.get("NAIVE_BROKER_URL", "redis://127.0.0.1:6379/14"))
_options: dict = {}
if os.environ.get("NAIVE_KEY_PREFIX"):
    _options["global_keyprefix"] = os.environ["NAIVE_KEY_PREFIX"]
app.conf.update(
    broker_transport_options=_options,
    task_ignore_result=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
)

_URL = os.environ.get("NAIVE_SANDBOX_URL", "http://127.0.0.1:18080") + ROWS_PATH
_HEADERS = {
    "Auth-key": os.environ.get("NAIVE_AUTH_KEY", "sandbox-ringostat-key"),
    "x-project-id": os.environ.get("NAIVE_PROJECT_ID", "123"),
}
_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _post(campaign_id: int, phone: str, fio: str) -> int:
    response = _session().post(_URL, json={"campaignId": campaign_id, "fio": fio, "phone_number": phone},
                               headers=_HEADERS, timeout=(3.05, 10))
    return response.status_code


@app.task(name="naive.post_row")
def post_row(campaign_id: int, phone: str, fio: str = "") -> int:
    return _post(campaign_id, phone, fio)


@app.task(name="naive.post_row_limited", rate_limit=os.environ.get("NAIVE_RATE_LIMIT", "50/s"))
def post_row_limited(campaign_id: int, phone: str, fio: str = "") -> int:
    return _post(campaign_id, phone, fio)
