"""Measure Redis memory for a bulk job: broker messages per queued row, ledger bytes per row.

    .venv/bin/python deploy/measure_redis_memory.py [--rows 1000000] [--failed-share 0.01]

Starts a private redis-server (tests.support.redis_server.start_redis, AOF on as in production), loads a
CSV of N rows with workers.jobs.kinds.ringostat_campaign.load_campaign_csv in a subprocess (no worker runs, so every
chunk stays queued), and reads INFO memory before and after. Then, as if workers had delivered
the job, it drops the queue and records every row's outcome through the ledger's own Lua
scripts (workers.jobs.ledger.Ledger): delivered bits for most rows, failure records for a share.
Prints the figures that deploy/README.md quotes ("Redis sizing").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import start_redis  # noqa: E402
from workers.dev import devstack  # noqa: E402

PREFIX = "tqmeasure:"
BROKER_PREFIX = "tqmeasure:broker:"
FORMATS = ("+38093{:07d}", "093{:07d}", "(093) {:07d}", "38093{:07d}")


def write_csv(path: Path, rows: int, rejected: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("phone;fio\n")
        for i in range(rows):
            out.write(f"{FORMATS[i % 4].format(i)};Контакт Тестовий {i}\n")
        for i in range(rejected):
            out.write(f"12345{i};Bad {i}\n")


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def load(url: str, csv: Path, chunk_size: int) -> tuple[str, float]:
    env = {**os.environ, "TELEQUEUE_REDIS_URL": url, "TELEQUEUE_KEY_PREFIX": PREFIX,
           "TELEQUEUE_BROKER_KEY_PREFIX": BROKER_PREFIX, "TELEQUEUE_CHUNK_SIZE": str(chunk_size)}
    code = ("import sys; from workers.app import publish; "
            "from workers.jobs.kinds.ringostat_campaign import load_campaign_csv; "
            "print(load_campaign_csv(sys.argv[1], campaign_id=456, publish=publish))")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, str(csv)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=1800, check=True)
    return done.stdout.strip().splitlines()[-1], time.monotonic() - started


def record_outcomes(client: redis.Redis, job_id: str, valid: int, failed_every: int) -> int:
    """Every valid row gets its outcome through the ledger's FINISH script, pipelined."""
    from workers.redis.keys import Keys
    from workers.jobs.ledger import Ledger

    ledger = Ledger(client, Keys(PREFIX), job_id, lease_s=30)
    failures = 0
    pipe = client.pipeline(transaction=False)
    for line in range(2, valid + 2):  # line 1 is the header
        if failed_every and line % failed_every == 0:
            record = json.dumps({"phone": f"38093{line:07d}", "fio": f"Контакт Тестовий {line}", "line": line,
                                 "reason": "ringostat 400: {\"result\": false, \"message\": \"Invalid phone\"}",
                                 "wire": [line, f"38093{line:07d}", f"Контакт Тестовий {line}"]},
                                ensure_ascii=False)
            ledger._finish(keys=ledger._job_keys, args=[line, "failed", record, ledger.owner, ledger._ttl_s], client=pipe)
            failures += 1
        else:
            ledger._finish(keys=ledger._job_keys, args=[line, "delivered", "", ledger.owner, ledger._ttl_s], client=pipe)
        if line % 5000 == 0:
            pipe.execute()
    pipe.execute()
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rejected", type=int, default=10_000, help="invalid rows appended to the file")
    parser.add_argument("--failed-share", type=float, default=0.01, help="share of valid rows that fail for good")
    parser.add_argument("--chunk-size", type=int, default=100)
    args = parser.parse_args()

    url, proc = start_redis(appendonly=True)
    client = redis.Redis.from_url(url)
    client.config_set("auto-aof-rewrite-percentage", 0)  # the AOF size then is the whole command log
    try:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "contacts.csv"
            write_csv(csv, args.rows, args.rejected)
            before = used(client)
            job_id, seconds = load(url, csv, args.chunk_size)
        loaded = used(client)
        queue = f"{BROKER_PREFIX}ringostat"
        messages = client.llen(queue)
        queue_bytes = client.memory_usage(queue, samples=0) or 0
        rejects_bytes = client.memory_usage(f"{PREFIX}job:{job_id}:rejects", samples=0) or 0
        one_message = len(client.lindex(queue, 0) or b"")
        print(f"rows {args.rows:,} valid + {args.rejected:,} rejected, chunk {args.chunk_size}: "
              f"loaded in {seconds:.1f} s as {messages:,} messages")
        print(f"used_memory before load        {before / 2**20:9.1f} MiB")
        print(f"used_memory with job queued    {loaded / 2**20:9.1f} MiB  (+{(loaded - before) / 2**20:.1f} MiB)")
        print(f"  per queued row               {(loaded - before) / args.rows:9.1f} B")
        print(f"  queue list (MEMORY USAGE)    {queue_bytes / 2**20:9.1f} MiB = {queue_bytes / args.rows:.1f} B/row,"
              f" one message {one_message:,} B")
        print(f"  rejects list                 {rejects_bytes / 2**20:9.2f} MiB = "
              f"{rejects_bytes / max(args.rejected, 1):.1f} B/rejected row")
        info = client.info("persistence")
        print(f"  AOF size after load          {int(info.get('aof_current_size', 0)) / 2**20:9.1f} MiB"
              " (no rewrite; BGREWRITEAOF shrinks it to about the dataset)")

        # As if workers had taken every chunk and recorded each row's outcome.
        client.delete(queue)
        drained = used(client)
        failed_every = round(1 / args.failed_share) if args.failed_share else 0
        failures = record_outcomes(client, job_id, args.rows, failed_every)
        finished = used(client)
        bitmap = client.memory_usage(f"{PREFIX}job:{job_id}:delivered", samples=0) or 0
        failed_hash = client.memory_usage(f"{PREFIX}job:{job_id}:failed", samples=0) or 0
        print(f"used_memory after queue drained {drained / 2**20:8.1f} MiB")
        print(f"used_memory with ledger filled {finished / 2**20:9.1f} MiB  (+{(finished - drained) / 2**20:.2f} MiB)")
        print(f"  delivered bitmap             {bitmap / 2**10:9.1f} KiB = {bitmap * 8 / args.rows:.2f} bit/row")
        print(f"  failed hash, {failures:,} rows    {failed_hash / 2**20:9.2f} MiB = "
              f"{failed_hash / max(failures, 1):.1f} B/failed row")
        state = client.hget(f"{PREFIX}job:{job_id}", "state")
        print(f"job state: {state.decode() if state else None}")
    finally:
        devstack.stop(proc)


if __name__ == "__main__":
    main()
