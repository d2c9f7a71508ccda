"""The Celery app: `celery -A workers.app worker -Q ringostat,bulk`, `celery -A workers.app flower`."""

from __future__ import annotations

from celery import Celery, signals

import tasks.runtime
from workers.deferred import Mover
from workers.routing import BULK_QUEUE, route_task
from workers.runtime import WorkerRuntime
from workers.settings import get_settings

settings = get_settings()

app = Celery("telequeue", broker=settings.broker, backend=settings.redis_url, include=["tasks.ringostat"])
transport_options: dict = {"visibility_timeout": settings.visibility_timeout_s, **settings.broker_transport_options}
if settings.broker_key_prefix:
    transport_options["global_keyprefix"] = settings.broker_key_prefix
app.conf.update(
    # Reliability: a chunk is acknowledged only once done; a lost worker's chunk comes back.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options=transport_options,
    result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    task_routes=(route_task,),
    task_default_queue=BULK_QUEUE,
    # For Flower: names, queues and states readable in its views.
    worker_send_task_events=True,
    task_send_sent_event=True,
    task_track_started=True,
)


# Register the tasks in every process that imports the app (producers and `send` need the names too).
import tasks.ringostat  # noqa: E402,F401


def publish(task_name: str, kwargs: dict) -> None:
    app.send_task(task_name, kwargs=kwargs)


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
