"""P1: validate and enqueue a generated 1,000,000-row CSV; the producer alone, no worker.

    python bench/p1_enqueue.py                 # 1,000,000 rows (file made once under bench/out/)
    python bench/p1_enqueue.py --rows 100000   # smaller smoke run

`workers.jobs.kinds.ringostat_campaign.load_campaign_csv` runs in a fresh subprocess against Redis DB 14 with
a unique TELEQUEUE_KEY_PREFIX / TELEQUEUE_BROKER_KEY_PREFIX. Measured: wall time of the
child (interpreter start and imports included, and without them), its peak RSS (wait4
rusage), and the Redis memory the broker queue and the job's keys take per row, both as
the INFO used_memory delta and as the MEMORY USAGE sum of the keys. The keys are deleted
afterwards. Targets: < 60 s wall, < 200 MB peak RSS.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (  # noqa: E402
    CAMPAIGN_ID, PY, REDIS_URL, ROOT, delete_prefix, ensure_contacts, exit_on_sigterm, machine,
    redis_client, unique_prefix, write_result,
)

TARGET_WALL_S = 60.0
TARGET_RSS_MB = 200.0

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from workers.jobs.kinds.ringostat_campaign import load_campaign_csv
t1 = time.perf_counter()
from workers.app import publish  # loaded inside the load before the job engine stopped importing the app
marks = {}
def on_created(job_id):
    marks["created"] = time.perf_counter()
job = load_campaign_csv(sys.argv[1], campaign_id=int(sys.argv[2]), publish=publish, on_created=on_created)
t2 = time.perf_counter()
print(json.dumps({"job_id": job, "import_s": t1 - t0, "load_s": t2 - t1, "produce_s": t2 - marks["created"],
                  "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def used_memory(client) -> int:
    return int(client.info("memory")["used_memory"])


def key_memory(client, prefix: str) -> dict[str, int]:
    """MEMORY USAGE (SAMPLES 0: every element) of each key under the prefix, grouped by kind."""
    groups: dict[str, int] = {}
    for key in client.scan_iter(match=f"{prefix}*", count=5000):
        name = key.decode()
        size = client.memory_usage(key, samples=0) or 0
        if name.startswith(prefix + "broker:"):
            kind = "broker:" + name[len(prefix + "broker:"):].split(":", 1)[0]
        else:
            rest = name[len(prefix):]
            kind = "job:" + rest.split(":")[2] if rest.count(":") >= 2 else rest.split(":", 1)[0]
        groups[kind] = groups.get(kind, 0) + size
    return groups


def run(rows: int, csv_path: Path) -> dict:
    client = redis_client()
    prefix = unique_prefix("p1")
    env = {**os.environ, "TELEQUEUE_REDIS_URL": REDIS_URL, "TELEQUEUE_KEY_PREFIX": prefix,
           "TELEQUEUE_BROKER_KEY_PREFIX": prefix + "broker:", "PYTHONPATH": str(ROOT)}
    memory_before = used_memory(client)
    proc = None
    try:
        started = time.perf_counter()
        # files, not pipes: nobody reads them while the child runs
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        proc = subprocess.Popen([PY, "-c", CHILD, str(csv_path), str(CAMPAIGN_ID)], env=env, cwd=ROOT,
                                stdout=out, stderr=err, start_new_session=True)
        # wait4 gives this child's own rusage (peak RSS), not the max over all children so far
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"producer exited {proc.returncode}: {err.read().decode()[-2000:]}")
        child = json.loads(out.read().decode().strip().splitlines()[-1])
        memory_after = used_memory(client)
        groups = key_memory(client, prefix)
        job = {k.decode(): v.decode() for k, v in client.hgetall(f"{prefix}job:{child['job_id']}").items()}
        queue_len = client.llen(f"{prefix}broker:ringostat")
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            proc.wait()
        removed = delete_prefix(client, prefix)
    valid, rejected = int(job["valid"]), int(job["rejected"])
    key_total = sum(groups.values())
    return {
        "rows": rows,
        "csv_bytes": csv_path.stat().st_size,
        "wall_s": round(wall_s, 2),
        "import_s": round(child["import_s"], 2),
        "load_s": round(child["load_s"], 2),
        "rows_per_s": round(rows / child["load_s"]),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "valid": valid,
        "rejected": rejected,
        "total": int(job["total"]),
        "state": job["state"],
        "produced": job["produced"] == "1",
        "messages_in_queue": queue_len,
        "redis_used_memory_delta_mb": round((memory_after - memory_before) / 2**20, 1),
        "redis_bytes_per_row_info": round((memory_after - memory_before) / rows, 1),
        "redis_key_bytes": groups,
        "redis_bytes_per_row_keys": round(key_total / rows, 1),
        "keys_deleted": removed,
        "targets": {"wall_s": TARGET_WALL_S, "peak_rss_mb": TARGET_RSS_MB},
        "wall_ok": wall_s < TARGET_WALL_S,
        "rss_ok": usage.ru_maxrss / 1024 < TARGET_RSS_MB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv", type=Path, help="use this CSV instead of a generated one")
    parser.add_argument("--bad-share", type=float, default=0.02, help="generator: share of invalid numbers")
    parser.add_argument("--dup-share", type=float, default=0.01, help="generator: share of repeated numbers")
    args = parser.parse_args()
    exit_on_sigterm()
    csv_path = args.csv or ensure_contacts(args.rows, bad_share=args.bad_share, dup_share=args.dup_share)
    result = run(args.rows, csv_path)
    result["machine"] = machine()
    result["command"] = "python bench/p1_enqueue.py" + (f" --rows {args.rows}" if args.rows != 1_000_000 else "")
    path = write_result("p1_enqueue" if args.rows == 1_000_000 else f"p1_enqueue-{args.rows}", result)
    ok = lambda flag: "ok" if flag else "MISS"  # noqa: E731
    print(f"P1 enqueue  {args.rows:,} rows  ({result['csv_bytes'] / 2**20:.0f} MB CSV, {result['valid']:,} valid, "
          f"{result['rejected']:,} rejected, {result['messages_in_queue']:,} chunk messages)")
    print(f"  wall            {result['wall_s']:7.2f} s   target < {TARGET_WALL_S:.0f} s  {ok(result['wall_ok'])}"
          f"   (imports {result['import_s']:.2f} s, load {result['load_s']:.2f} s = {result['rows_per_s']:,} rows/s,"
          f" cpu {result['cpu_s']:.1f} s)")
    print(f"  peak RSS        {result['peak_rss_mb']:7.1f} MB  target < {TARGET_RSS_MB:.0f} MB {ok(result['rss_ok'])}")
    print(f"  Redis per row   {result['redis_bytes_per_row_info']:7.1f} B (INFO used_memory delta "
          f"{result['redis_used_memory_delta_mb']} MB)   {result['redis_bytes_per_row_keys']:.1f} B (MEMORY USAGE of keys)")
    print("  keys by kind    " + ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in sorted(result["redis_key_bytes"].items())))
    print(f"  -> {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
