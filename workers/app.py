"""The Celery app: `celery -A workers.app worker -Q ringostat,bulk`, `celery -A workers.app flower`."""

from __future__ import annotations

from celery import Celery, signals

import tasks.runtime
from tasks.catalog import TASK_MODULES, load_all
import workers.heartbeat
import workers.metrics
from workers.deferred import Mover
from workers.celeryconf import celery_config
from workers.runtime import WorkerRuntime
from workers.settings import get_settings

settings = get_settings()

app = Celery("telequeue", include=list(TASK_MODULES))
app.conf.update(celery_config(settings))
# Register the tasks in every process that imports the app (producers and `send` need the names too).
load_all()


# Flower loads this app: its /metrics then serves telequeue's own metrics too.
workers.metrics.register()


def publish(task_name: str, kwargs: dict, **options) -> None:
    app.send_task(task_name, kwargs=kwargs, **options)


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
