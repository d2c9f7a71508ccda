"""F1: a 200,000-row CSV uploaded to Flower's /api/jobs; Flower's memory and answers meanwhile.

    python bench/f1_flower_upload.py                 # 200,000 rows (file made once under bench/out/)
    python bench/f1_flower_upload.py --rows 20000    # smaller smoke run

Starts `celery -A workers.app flower` (basic auth) on Redis DB 14 with its own key prefixes,
no worker: the chunks wait in the queue and are deleted afterwards. Samples Flower's RSS
every 50 ms from before the upload until the job is fully enqueued, and meanwhile asks
for /jobs, /api/jobs and /api/jobs/JOB in turn, timing each answer. Target: RSS stays
within 50 MB of its level before the upload; every page answers within 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
import requests  # noqa: E402

from _stack import (  # noqa: E402
    LOGS, PY, Procs, delete_prefix, ensure_contacts, exit_on_sigterm, machine, redis_client,
    telequeue_env, unique_prefix, write_result,
)
from workers.dev import devstack  # noqa: E402

AUTH = ("bench", "bench-flower-pass")
TARGET_RSS_GROWTH_MB = 50.0
TARGET_PAGE_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--flower-arg", action="append", default=[],
                        help="extra Flower option, e.g. --flower-arg=--max_tasks=100")
    args = parser.parse_args()
    exit_on_sigterm()
    csv_path = ensure_contacts(args.rows, bad_share=0.02, dup_share=0.01)
    prefix = unique_prefix("p4")
    procs = Procs()
    client = redis_client()
    port = devstack.free_port()
    url = f"http://127.0.0.1:{port}"
    LOGS.mkdir(parents=True, exist_ok=True)
    env = telequeue_env(prefix, "http://127.0.0.1:9", rate_per_s=1000, burst=1)
    try:
        flower = procs.spawn([PY, "-m", "celery", "-A", "workers.app", "flower", f"--port={port}",
                              "--address=127.0.0.1", f"--basic-auth={':'.join(AUTH)}", *args.flower_arg], env, LOGS / "p4-flower.log")
        devstack.wait_until(lambda: _ok(f"{url}/healthcheck"), 30, "flower to answer")
        for path in ("/jobs", "/api/jobs", "/workers"):  # warm up: templates compiled, pools made
            requests.get(f"{url}{path}", auth=AUTH, timeout=10)
        result = measure(url, flower.pid, csv_path, client, prefix)
    finally:
        procs.stop_all()
        delete_prefix(client, prefix)
    result.update(rows=args.rows, flower_args=args.flower_arg, file_mb=round(csv_path.stat().st_size / 2**20, 1), machine=machine())
    path = write_result("f1_flower_upload" + ("-flower-args" if args.flower_arg else ""), result)
    print(f"rows {args.rows:,} ({result['file_mb']} MB): upload answered in {result['upload_answer_s']:.2f} s, "
          f"enqueued in {result['enqueued_s']:.1f} s")
    print(f"Flower RSS: {result['rss_before_mb']} MB before, peak {result['rss_peak_mb']} MB "
          f"(+{result['rss_growth_mb']} MB; target < +{TARGET_RSS_GROWTH_MB:.0f}), "
          f"{result['rss_after_mb']} MB after")
    print(f"pages during the enqueue: {result['page_answers']} answers, median {result['page_median_s']:.3f} s, "
          f"max {result['page_max_s']:.3f} s (target < {TARGET_PAGE_S} s), errors {result['page_errors']}")
    print(f"written to {path}")


def measure(url: str, pid: int, csv_path: Path, client, prefix: str) -> dict:
    process = psutil.Process(pid)
    rss = [process.memory_info().rss]
    rss_before = rss[0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss.append(process.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with open(csv_path, "rb") as stream:
        reply = requests.post(f"{url}/api/jobs", auth=AUTH, headers={"X-Requested-With": "bench"}, timeout=300,
                              data={"kind": "ringostat-campaign", "campaign": "456"},
                              files={"file": (csv_path.name, stream, "text/csv")})
    answered = time.perf_counter() - started
    reply.raise_for_status()
    job_id = reply.json()["job_id"]
    pages, errors = [], 0
    paths = ["/jobs", "/api/jobs", f"/api/jobs/{job_id}"]
    while not _produced(client, prefix, job_id):
        t = time.perf_counter()
        try:
            ok = requests.get(f"{url}{paths[len(pages) % 3]}", auth=AUTH, timeout=30).ok
        except requests.RequestException:
            ok = False
        pages.append(time.perf_counter() - t)
        errors += not ok
        time.sleep(0.1)
    enqueued = time.perf_counter() - started
    time.sleep(2)
    stop.set()
    sampler.join()
    status = requests.get(f"{url}/api/jobs/{job_id}", auth=AUTH, timeout=30).json()["job"]
    mb = 2**20
    return {"job_id": job_id, "upload_answer_s": answered, "enqueued_s": enqueued,
            "valid": status["valid"], "rejected": status["rejected"], "total": status["total"],
            "rss_before_mb": round(rss_before / mb, 1), "rss_peak_mb": round(max(rss) / mb, 1),
            "rss_growth_mb": round((max(rss) - rss_before) / mb, 1), "rss_after_mb": round(rss[-1] / mb, 1),
            "rss_samples": len(rss), "page_answers": len(pages), "page_errors": errors,
            "page_median_s": statistics.median(pages) if pages else None, "page_max_s": max(pages, default=None)}


def _produced(client, prefix: str, job_id: str) -> bool:
    return client.hget(f"{prefix}job:{job_id}", "produced") == b"1"


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


if __name__ == "__main__":
    main()
