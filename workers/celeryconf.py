"""Celery configuration shared by the worker app and the light client app of programs that
only enqueue (workers.client, the `telequeue` command)."""

from __future__ import annotations

from celery import Celery

from workers.redis.connection import celery_publish_retry_policy
from workers.routing import BULK_QUEUE, route_task
from workers.runtime.secret_store import SecretRefAMQP
from workers.settings import Settings, get_settings


def client_app() -> Celery:
    """A Celery app that sends tasks by name: no task modules, no worker runtime (those are
    workers.app's), the same configuration and the same secrets-by-reference."""
    app = Celery("telequeue-client", set_as_current=False, amqp=SecretRefAMQP)
    app.conf.update(celery_config(get_settings()))
    return app


def celery_config(settings: Settings) -> dict:
    transport_options: dict = {"visibility_timeout": settings.visibility_timeout_s,
                               **settings.broker_transport_options}
    if settings.broker_key_prefix:
        transport_options["global_keyprefix"] = settings.broker_key_prefix
    backend_options: dict = {"visibility_timeout": settings.visibility_timeout_s}
    # Redis Sentinel (`sentinel://h1:26379;sentinel://h2:26379/0`): kombu and Celery's result
    # backend find the master by this name, as workers/redis/connection.py does.
    if settings.broker.startswith("sentinel://"):
        transport_options.setdefault("master_name", settings.redis_sentinel_master)
    if settings.redis_url.startswith("sentinel://"):
        backend_options["master_name"] = settings.redis_sentinel_master
    return dict(
        broker_url=settings.broker,
        result_backend=settings.redis_url,
        # Reliability: a chunk is acknowledged only once done; a lost worker's chunk comes back.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport_options,
        result_backend_transport_options=backend_options,
        broker_connection_retry_on_startup=True,
        # A publish waits out a broker restart or failover (redis_outage_s), saying so.
        task_publish_retry_policy=celery_publish_retry_policy(settings.redis_outage_s, settings.broker),
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        result_extended=True,  # Flower and result readers see the task's name and queue
        task_routes=(route_task,),
        task_default_queue=BULK_QUEUE,
        # For Flower: names, queues and states readable in its views.
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_track_started=True,
        # Where workers.runtime.secret_store.SecretRefAMQP keeps secrets passed by reference (names chosen so that
        # Celery's own config views mask them: *backend* URLs sanitised, *secret* values hidden)
        telequeue_secrets_backend=settings.redis_url,
        telequeue_secrets_prefix=settings.key_prefix,
        telequeue_secrets_ttl_s=settings.secret_ttl_s,
    )
