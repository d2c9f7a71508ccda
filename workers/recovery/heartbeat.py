"""The beat of one worker process: how a dead worker's messages come back within seconds.

Every heartbeat_interval_s a thread in the worker's main process
  1. touches settings.heartbeat_file (when set), first and even while Redis is down: a
     liveness probe reads its mtime;
  2. writes its liveness record (workers.recovery.liveness): the task messages it holds;
  3. on a Redis broker, re-scores those messages in kombu's unacked index, so a live
     worker's messages always look fresh, however long a chunk runs;
  4. on a Redis broker, puts back on their queues the messages nobody re-scored for
     worker_dead_after_s (workers.recovery.unacked): their worker is dead. Only once this process has
     reached Redis at every beat for worker_dead_after_s: after an outage every live worker
     has then re-scored its own, and nobody is mistaken for dead.
Other brokers (RabbitMQ) return a dead consumer's messages when its connection closes.

Its own thread, apart from the deferred mover: a publish stuck on a broker must not stop the
beat (a missed beat for worker_dead_after_s makes this worker's messages look dead).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from workers.redis.keys import Keys
from workers.recovery.liveness import Liveness, delivery_tag, held_requests, worker_id
from workers.redis.connection import SENTINEL_SCHEME, sentinel_client
from workers.settings import Settings
from workers.recovery.unacked import UnackedIndex, is_redis_broker

log = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    def __init__(self, *, liveness: Liveness, held: Callable[[], list[Any]], interval_s: float, dead_after_s: float,
                 connect_broker: Callable[[], Any] | None = None, heartbeat_file: str = "",
                 clock: Callable[[], float] | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        """clock: unix time the scores use; by default Redis' own, so hosts' clocks need not agree."""
        """connect_broker: a new kombu connection to a Redis broker, or None for other brokers."""
        super().__init__(name="telequeue-heartbeat", daemon=True)
        self._liveness = liveness
        self._held = held
        self._interval_s = interval_s
        self._dead_after_s = dead_after_s
        self._connect_broker = connect_broker
        self._file = Path(heartbeat_file) if heartbeat_file else None
        self._clock = clock
        self._monotonic = monotonic
        self._stop_event = threading.Event()
        self._broker: Any = None
        self._index: UnackedIndex | None = None
        #: since when every beat reached Redis (monotonic s); None after a failed one
        self._reached_since: float | None = None
        self._failing = False

    def run(self) -> None:
        due = self._monotonic()
        while not self._stop_event.is_set():
            try:
                self.beat()
            except Exception:  # a beat that stops for good would make this live worker look dead
                log.exception("heartbeat: beat failed; beating on")
            due = max(due + self._interval_s, self._monotonic())
            self._stop_event.wait(due - self._monotonic())

    def stop(self) -> None:
        """End the beat and, on a clean shutdown, remove this worker's record."""
        self._stop_event.set()
        if self.is_alive():
            self.join(self._interval_s + 10)
        try:
            self._liveness.retire()
        except Exception:  # shutting down anyway: the record expires by itself
            log.warning("heartbeat: could not remove this worker's liveness record", exc_info=True)
        self._close_broker()

    def beat(self) -> int:
        """One beat; returns how many dead workers' messages it put back."""
        self._touch()
        try:
            requests = self._held()
            self._liveness.beat(requests)
            if self._connect_broker is not None:
                self._unacked().refresh(filter(None, map(delivery_tag, requests)), self._now())
        except Exception as exc:
            self._lost(exc)
            return 0
        now = self._monotonic()
        if self._reached_since is None:
            self._reached_since = now
        if self._failing:
            self._failing = False
            log.warning("heartbeat: Redis reached again; taking over dead workers' messages after %.0f s",
                        self._dead_after_s)
        if self._connect_broker is None or now - self._reached_since < self._dead_after_s:
            return 0
        try:
            restored = self._unacked().reap(self._now() - self._dead_after_s)
        except Exception as exc:
            self._lost(exc)
            return 0
        if restored:
            log.warning("heartbeat: put %d message(s) of dead workers back on their queues", restored)
        return restored

    def _now(self) -> float:
        return self._clock() if self._clock is not None else self._unacked().now()

    def _touch(self) -> None:
        if self._file is None:
            return
        try:
            self._file.touch()  # sets the mtime to now, creating the file the first time
        except OSError as exc:
            log.error("heartbeat: cannot touch %s: %s", self._file, exc)

    def _lost(self, exc: Exception) -> None:
        self._reached_since = None
        self._close_broker()
        if not self._failing:
            self._failing = True
            log.warning("heartbeat: waiting for Redis (%s: %s); beating every %.0f s",
                        type(exc).__name__, exc, self._interval_s)

    def _unacked(self) -> UnackedIndex:
        if self._index is None:
            self._broker = self._connect_broker()
            self._index = UnackedIndex(self._broker.default_channel)
        return self._index

    def _close_broker(self) -> None:
        broker, self._broker, self._index = self._broker, None, None
        if broker is not None:
            try:
                broker.release()
            except Exception:
                pass


def heartbeat_redis(settings: Settings) -> redis.Redis:
    """A client of the beat's own, with timeouts short enough that a beat while Redis is
    unreachable ends in about one interval and the heartbeat file keeps being touched."""
    timeout_s = max(1.0, settings.heartbeat_interval_s)
    # One retry at once (a connection the server closed), not redis-py's ten with backoff.
    if settings.redis_url.startswith(SENTINEL_SCHEME):
        return sentinel_client(settings.redis_url, settings.redis_sentinel_master, socket_timeout=timeout_s,
                               socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 1))
    return redis.Redis.from_url(settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                retry=Retry(NoBackoff(), 1))


def for_worker(app: Any, settings: Settings, consumer: Any) -> Heartbeat:
    """The beat of the worker whose consumer (Celery's worker_ready sender) is given."""
    liveness = Liveness(heartbeat_redis(settings), Keys(settings.key_prefix), worker=worker_id(),
                        queues=lambda: consumed_queues(consumer), dead_after_s=settings.worker_dead_after_s)
    return Heartbeat(liveness=liveness, held=held_requests, interval_s=settings.heartbeat_interval_s,
                     dead_after_s=settings.worker_dead_after_s, connect_broker=broker_connector(app, settings),
                     heartbeat_file=settings.heartbeat_file)


def broker_connector(app: Any, settings: Settings) -> Callable[[], Any] | None:
    """New kombu connections to the Redis broker for the beat, failing within about one interval
    when it is unreachable (no kombu connect retries); None for other brokers."""
    probe = app.connection_for_write()
    redis_broker = is_redis_broker(probe)
    probe.release()
    if not redis_broker:
        return None
    timeout_s = max(1.0, settings.heartbeat_interval_s)
    options = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s, "max_retries": 0}
    return lambda: app.connection_for_write(transport_options=options)


def consumed_queues(consumer: Any) -> list[str]:
    task_consumer = getattr(consumer, "task_consumer", None)
    return [queue.name for queue in getattr(task_consumer, "queues", None) or []]
