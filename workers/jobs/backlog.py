"""The work of each queue, counted where it really is: what autoscaling must not undercount.

A queue's Redis list holds only the chunks no worker has taken yet. A chunk a worker runs sits
in kombu's `unacked` hash (delivery tag -> JSON [message, exchange, routing_key]) until it is
acknowledged, and a chunk waiting for a retry sits in telequeue's deferred set. Scaling on the
list alone empties to zero while every thread is busy, and the autoscaler then removes replicas
mid-work. Counted at scrape time from Redis: nothing to keep in sync, nothing lost on a restart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import redis

from workers.redis.keys import Keys
from workers.routing import route_task

# KEYS[1]  kombu's unacked hash
# returns  the routing key (the queue, for Celery's direct routes) of every chunk in flight
IN_FLIGHT_ROUTES = """
local routes = {}
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' and type(entry[3]) == 'string' then
    routes[#routes + 1] = entry[3]
  end
end
return routes
"""

# KEYS[1]  telequeue's deferred sorted set
# returns  "task<TAB>account" of every deferred entry (the parts its queue is routed by)
DEFERRED_ROUTES = """
local routes = {}
for _, raw in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' and type(entry.task) == 'string' then
    local account = ''
    if type(entry.kwargs) == 'table' and type(entry.kwargs.account) == 'string' then
      account = entry.kwargs.account
    end
    routes[#routes + 1] = entry.task .. '\\t' .. account
  end
end
return routes
"""


@dataclass(frozen=True)
class QueueWork:
    waiting: int = 0
    in_flight: int = 0
    deferred: int = 0

    @property
    def total(self) -> int:
        return self.waiting + self.in_flight + self.deferred


def queue_work(client: redis.Redis, keys: Keys, queues: list[str], *, broker_prefix: str = "") -> dict[str, QueueWork]:
    """Chunks per queue: waiting in its list, in flight (unacked), deferred. Queues found in flight or
    deferred are reported too, even when not in `queues`."""
    in_flight = Counter(r.decode() for r in client.eval(IN_FLIGHT_ROUTES, 1, f"{broker_prefix}unacked"))
    deferred = Counter()
    for raw in client.eval(DEFERRED_ROUTES, 1, keys.deferred()):
        task, _, account = raw.decode().partition("\t")
        deferred[route_task(task, (), {"account": account} if account else {}, {})["queue"]] += 1
    names = sorted(set(queues) | set(in_flight) | set(deferred))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(f"{broker_prefix}{name}")
    waiting = dict(zip(names, pipe.execute()))
    return {name: QueueWork(int(waiting[name]), in_flight[name], deferred[name]) for name in names}


__all__ = ["QueueWork", "queue_work"]
