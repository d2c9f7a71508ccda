"""Per-call client CPU of the pieces a chunk task spends a row on (one thread, loopback sandbox).

    python bench/_micro_client.py [--calls 3000]

Prints CPU µs per call (time.process_time of this process, server excluded) for HTTP clients
and for telequeue's Redis scripts, to show where the worker's per-row CPU goes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import AUTH_KEY, PROJECT_ID, ROWS_PATH, Procs, delete_prefix, redis_client, unique_prefix  # noqa: E402

import requests  # noqa: E402
import urllib3  # noqa: E402

HEADERS = {"Auth-key": AUTH_KEY, "x-project-id": PROJECT_ID, "Content-Type": "application/json"}


def measure(name: str, calls: int, fn) -> float:
    for i in range(50):
        fn(i)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(calls):
        fn(i)
    cpu = (time.process_time() - cpu0) / calls * 1e6
    wall = (time.perf_counter() - wall0) / calls * 1e6
    print(f"  {name:52} {cpu:7.0f} µs CPU/call  ({wall:6.0f} µs wall)")
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    procs = Procs()
    client = redis_client()
    prefix = unique_prefix("micro")
    try:
        box = procs.sandbox()
        url = box.url + ROWS_PATH
        host, port = box.url.removeprefix("http://").split(":")
        counter = iter(range(10**9))

        def body(_: int) -> dict:
            return {"campaignId": 456, "fio": "Шевченко Олена", "phone_number": f"380{next(counter):09d}"}

        print("HTTP POST of one campaign row:")
        session = requests.Session()
        measure("requests.Session().post(json=...)", args.calls, lambda i: session.post(url, json=body(i), headers=HEADERS, timeout=(3, 10)))
        quiet = requests.Session()
        quiet.trust_env = False
        measure("requests.Session(trust_env=False).post(json=...)", args.calls, lambda i: quiet.post(url, json=body(i), headers=HEADERS, timeout=(3, 10)))
        pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, timeout=urllib3.Timeout(connect=3, read=10))
        measure("urllib3.HTTPConnectionPool.request(body=json)", args.calls,
                lambda i: pool.request("POST", ROWS_PATH, body=json.dumps(body(i)).encode(), headers=HEADERS).status)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)

        def raw(i: int) -> int:
            conn.request("POST", ROWS_PATH, body=json.dumps(body(i)).encode(), headers=HEADERS)
            response = conn.getresponse()
            response.read()
            return response.status

        measure("http.client.HTTPConnection (keep-alive)", args.calls, raw)

        print("Redis, telequeue's scripts (workers.limits.limiter, workers.jobs.ledger):")
        from workers.redis.keys import Keys
        from workers.jobs.ledger import Ledger
        from workers.limits.limiter import RateLimiter

        keys = Keys(prefix)
        limiter = RateLimiter(client, key=keys.limiter("ringostat", "default"),
                              stats_key=keys.limiter_stats("ringostat", "default"), rate_per_s=1e6, burst=100)
        client.hset(keys.job("j"), mapping={"state": "running", "produced": 0, "valid": 10**9})
        ledger = Ledger(client, keys, "j", lease_s=30)
        lines = iter(range(1, 10**9))
        measure("limiter.acquire() (EVALSHA reserve)", args.calls, lambda i: limiter.acquire())
        measure("ledger.claim(line)", args.calls, lambda i: ledger.claim(next(lines)))
        lines2 = iter(range(1, 10**9))
        measure("ledger.delivered(line)", args.calls, lambda i: ledger.delivered(next(lines2)))
        measure("PING (a bare round trip)", args.calls, lambda i: client.ping())

        from vendors.ringostat import CampaignRow
        print("Python per row:")
        measure("CampaignRow(...).model_dump(by_alias=True)", args.calls,
                lambda i: CampaignRow(campaign_id=456, phone_number="380931234567", fio="x").model_dump(by_alias=True))
    finally:
        procs.stop_all()
        delete_prefix(client, prefix)


if __name__ == "__main__":
    main()
