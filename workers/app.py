"""The Celery app: `celery -A workers.app worker -Q ringostat,bulk`, `celery -A workers.app flower`."""

from __future__ import annotations

import sys

from celery import Celery, signals
from celery.utils.log import get_logger

import tasks.runtime
import vendors.surprises
import workers.metrics
import workers.recovery.heartbeat
import workers.runtime.collector
from tasks.catalog import TASK_MODULES, load_all
from workers.celeryconf import celery_config
from workers.jobs.producer import LoadReaper
from workers.jobs.store import JobStore
from workers.limits.deferred import Mover
from workers.redis.connection import get_keys, get_redis
from workers.runtime.secret_store import SecretRefAMQP
from workers.runtime.worker_runtime import WorkerRuntime
from workers.settings import get_settings

settings = get_settings()
_log = get_logger(__name__)

app = Celery("telequeue", include=list(TASK_MODULES), amqp=SecretRefAMQP)  # secrets leave messages by reference
app.conf.update(celery_config(settings))
# Register the tasks in every process that imports the app (producers and `send` need the names too).
load_all()


# Flower loads this app: its /metrics then serves telequeue's own metrics too.
workers.metrics.register()

if "flower.urls" in sys.modules:
    # Celery's command line loads Flower's command (a plugin) before this app: add the Jobs tab
    # and guard every Flower path but /healthcheck before `celery flower` builds its web app.
    # Other celery commands load it too; there it only edits a list nobody reads.
    import workers.flower

    workers.flower.install()


def publish(task_name: str, kwargs: dict, **options) -> None:
    app.send_task(task_name, kwargs=kwargs, **options)


# 2xx replies of an unexpected shape are counted for /metrics (they are results, not failures).
vendors.surprises.install(workers.metrics.count_surprise)
runtime = WorkerRuntime(publish, settings)
tasks.runtime.install(runtime)
#: the worker's own threads, started once it is ready and stopped at shutdown, in this order:
#: the deferred mover, the load reaper (workers.jobs.producer) and the heartbeat (workers.recovery.heartbeat).
_background: list = []


def _background_threads(consumer: object) -> list:
    return [
        lambda: Mover(runtime.deferred, publish),
        lambda: LoadReaper(JobStore(get_redis(), get_keys()), publish),
        lambda: workers.recovery.heartbeat.for_worker(app, settings, consumer=consumer),
    ]


@signals.worker_init.connect
def _tune_collector(**_: object) -> None:
    workers.runtime.collector.tune()


@signals.worker_ready.connect
def _start_background(sender: object = None, **_: object) -> None:
    for build in _background_threads(sender):
        try:  # each on its own: one that cannot start must not keep the others (the heartbeat) from running
            thread = build()
            thread.start()
            _background.append(thread)
        except Exception:
            _log.exception("a worker background thread could not start")


@signals.worker_shutdown.connect
def _stop_background(**_: object) -> None:
    for thread in _background:
        thread.stop()
