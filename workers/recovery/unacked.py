"""The Redis broker's unacked messages, seen from a live worker: keep its own fresh, take back the dead's.

kombu's Redis transport emulates acks: a delivered message waits in hash `unacked`
(delivery tag -> [message, exchange, routing_key]) and sorted set `unacked_index`
(delivery tag -> the consumer host's time() at delivery), both under `global_keyprefix`.
kombu itself puts a message back only once its index score is older than the visibility
timeout, and looks at most every unacked_restore_interval x unacked_restore_throttle
(100 s). Here every live worker re-scores the tags it holds each beat, so a score older
than worker_dead_after_s means nobody alive holds that message, and it goes back to its
queue at once, through kombu's own restore steps (queue lookup, priority queue, prefix).

A restore checks the score again inside a WATCH transaction on both keys: a message that
was acknowledged, re-scored by its holder or restored by another worker meanwhile is left
alone, so two workers reaping at once put a message back once.
"""

from __future__ import annotations

from typing import Any, Iterable

from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

#: stale tags looked at per round trip
PAGE = 100


def is_redis_broker(connection: Any) -> bool:
    """RabbitMQ and other brokers return a dead consumer's messages themselves."""
    return getattr(connection.transport, "driver_type", "") == "redis"


class UnackedIndex:
    def __init__(self, channel: Any) -> None:
        """`channel`: a kombu Redis channel on a connection of this thread's own."""
        self._channel = channel
        self._qos = channel.qos
        self._client = channel.client  # prefixes the keys of the commands kombu itself uses
        # ZSCORE is not among the commands kombu's client prefixes: name the whole key for it.
        self._index_key_full = channel.global_keyprefix + self._qos.unacked_index_key

    def now(self) -> float:
        """Redis' clock (unix s): every worker scores and compares on it, so a host whose clock
        is behind another's never makes that one's live messages look dead."""
        seconds, micros = self._client.time()
        return seconds + micros / 1_000_000

    def refresh(self, tags: Iterable[str], now: float) -> int:
        """Re-score the messages this worker holds (XX: never bring back an acknowledged one)."""
        scores = {tag: now for tag in tags}
        if not scores:
            return 0
        return self._client.zadd(self._qos.unacked_index_key, scores, xx=True, ch=True)

    def stale(self, older_than: float, *, limit: int = 100) -> list[str]:
        """Tags whose score is older than `older_than` (unix time): nobody alive re-scored them."""
        tags = self._client.zrange(self._qos.unacked_index_key, 0, older_than, byscore=True, offset=0, num=limit)
        return [bytes_to_str(tag) for tag in tags]

    def restore_if_stale(self, tag: str, older_than: float) -> bool:
        """Put one message back on its queue if its score is still older than `older_than`."""
        def restore(pipe) -> bool:
            score = pipe.zscore(self._index_key_full, tag)
            raw = pipe.hget(self._qos.unacked_key, tag)
            pipe.multi()
            if score is None or score > older_than:
                return False  # acknowledged, re-scored, or already put back meanwhile
            self._qos._remove_from_indices(tag, pipe)
            if not raw:
                return False
            message, exchange, routing_key = loads(bytes_to_str(raw))
            self._channel._do_restore_message(message, exchange, routing_key, pipe)
            return True

        return self._client.transaction(restore, self._qos.unacked_key, self._qos.unacked_index_key,
                                        value_from_callable=True)

    def reap(self, older_than: float, *, limit: int = 1000) -> int:
        """Restore every message nobody has re-scored since `older_than`; returns how many."""
        restored = 0
        for _ in range(max(1, limit // PAGE)):
            tags = self.stale(older_than, limit=PAGE)
            restored += sum(self.restore_if_stale(tag, older_than) for tag in tags)
            if len(tags) < PAGE:  # each page's tags left the index (restored) or are fresh again
                break
        return restored
