"""The Celery app: `celery -A workers.app worker -Q ringostat,bulk`, `celery -A workers.app flower`."""

from __future__ import annotations

import sys

from celery import Celery, signals

import tasks.runtime
import vendors.surprises
from tasks.catalog import TASK_MODULES, load_all
import workers.heartbeat
import workers.metrics
from workers.deferred import Mover
from workers.celeryconf import celery_config
from workers.runtime import WorkerRuntime
from workers.secretrefs import SecretRefAMQP
from workers.settings import get_settings

settings = get_settings()

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
_movers: list[Mover] = []


@signals.worker_ready.connect
def _start_mover(**_: object) -> None:
    mover = Mover(runtime.deferred, publish)
    mover.start()
    _movers.append(mover)


@signals.worker_shutdown.connect
def _stop_mover(**_: object) -> None:
    for mover in _movers:
        mover.stop()


_reapers: list = []


@signals.worker_ready.connect
def _start_load_reaper(**_: object) -> None:
    """Ends loads whose producer vanished and sends what they counted (workers.producer)."""
    from workers.jobs import JobStore
    from workers.producer import LoadReaper
    from workers.redis_conn import get_keys, get_redis

    reaper = LoadReaper(JobStore(get_redis(), get_keys()), publish)
    reaper.start()
    _reapers.append(reaper)


@signals.worker_shutdown.connect
def _stop_load_reaper(**_: object) -> None:
    for reaper in _reapers:
        reaper.stop()


_heartbeats: list[workers.heartbeat.Heartbeat] = []


@signals.worker_ready.connect
def _start_heartbeat(sender: object = None, **_: object) -> None:
    heartbeat = workers.heartbeat.for_worker(app, settings, consumer=sender)
    heartbeat.start()
    _heartbeats.append(heartbeat)


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: object) -> None:
    for heartbeat in _heartbeats:
        heartbeat.stop()
