"""How many valid Ringostat campaign-row POSTs per second the sandbox serves.

    python bench/sandbox_throughput.py                       # 8 threads x requests.Session, 1 process
    python bench/sandbox_throughput.py --threads 1           # one client thread
    python bench/sandbox_throughput.py --processes 2 --threads 4
    python bench/sandbox_throughput.py --client raw --connections 32
                                      # minimal asyncio client: measures the server, not requests

Each client thread keeps one keep-alive connection and sends distinct phone
numbers. Client and server share the machine's cores, so a heavy client (requests)
understates what the server can do; the raw client shows the server's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from sandbox import DEFAULT_AUTH_KEY, DEFAULT_PROJECT_ID, SandboxControl, start_sandbox  # noqa: E402

PATH = "/ringostat/power-dialer/campaigns/campaign-rows"
HEADERS = {"Auth-key": DEFAULT_AUTH_KEY, "x-project-id": DEFAULT_PROJECT_ID, "Content-Type": "application/json"}
CAMPAIGN_ID = 456


def body(client_id: int, n: int) -> bytes:
    phone = f"380{client_id:03d}{n:07d}"[:15]
    return json.dumps({"campaignId": CAMPAIGN_ID, "fio": "Bench Client", "phone_number": phone}).encode()


def requests_worker(url: str, client_id: int, duration_s: float, out: Counter) -> None:
    session = requests.Session()
    counts: Counter = Counter()
    deadline = time.monotonic() + duration_s
    n = 0
    while time.monotonic() < deadline:
        response = session.post(url + PATH, data=body(client_id, n), headers=HEADERS, timeout=10)
        counts[response.status_code] += 1
        n += 1
    out.update(counts)  # Counter.update under the GIL: one call per thread at the end


def requests_process(url: str, first_id: int, threads: int, duration_s: float, queue: mp.Queue) -> None:
    started = time.monotonic()
    out: Counter = Counter()
    pool = [
        threading.Thread(target=requests_worker, args=(url, first_id + i, duration_s, out)) for i in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    queue.put((dict(out), time.monotonic() - started))


async def raw_connection(host: str, port: int, client_id: int, deadline: float, out: Counter) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
    n = 0
    while time.monotonic() < deadline:
        payload = body(client_id, n)
        writer.write(f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        out[int(status_line.split()[1])] += 1
        n += 1
    writer.close()


def raw_process(url: str, first_id: int, connections: int, duration_s: float, queue: mp.Queue) -> None:
    host, port = url.removeprefix("http://").split(":")
    out: Counter = Counter()

    async def run() -> None:
        deadline = time.monotonic() + duration_s
        await asyncio.gather(*(raw_connection(host, int(port), first_id + i, deadline, out) for i in range(connections)))

    started = time.monotonic()
    asyncio.run(run())
    queue.put((dict(out), time.monotonic() - started))


def drive(url: str, args: argparse.Namespace) -> tuple[Counter, float]:
    target, per_process = (raw_process, args.connections) if args.client == "raw" else (requests_process, args.threads)
    queue: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=target, args=(url, p * per_process, per_process, args.duration_s, queue))
        for p in range(args.processes)
    ]
    for proc in procs:
        proc.start()
    totals: Counter = Counter()
    elapsed_s = 0.0
    for _ in procs:
        counts, proc_elapsed_s = queue.get()
        totals.update(counts)
        elapsed_s = max(elapsed_s, proc_elapsed_s)
    for proc in procs:
        proc.join()
    return totals, elapsed_s


def cpu_s(pid: int) -> float:
    # utime + stime from /proc, to show how busy the server was (Linux only).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", choices=["requests", "raw"], default="requests")
    parser.add_argument("--threads", type=int, default=8, help="requests threads per process")
    parser.add_argument("--connections", type=int, default=32, help="raw connections per process")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--url", help="use a running sandbox instead of starting one")
    args = parser.parse_args()

    sandbox = None if args.url else start_sandbox()
    url = args.url or sandbox.url
    control = SandboxControl(url)
    control.reset()
    try:
        server_cpu_before_s = cpu_s(sandbox.pid) if sandbox else 0.0
        totals, elapsed_s = drive(url, args)
        server_cpu_s = cpu_s(sandbox.pid) - server_cpu_before_s if sandbox else float("nan")
        stats = control.stats()
    finally:
        control.close()
        if sandbox:
            sandbox.stop()

    sent = sum(totals.values())
    clients = args.processes * (args.connections if args.client == "raw" else args.threads)
    print(f"client={args.client} processes={args.processes} clients={clients} duration={elapsed_s:.1f}s")
    print(f"requests/s: {sent / elapsed_s:,.0f}   ok(200) share: {totals[200] / max(sent, 1):.4f}   statuses: {dict(totals)}")
    print(f"server: accepted={stats['accepted']} duplicates={stats['duplicates']} "
          f"cpu={server_cpu_s:.1f}s ({server_cpu_s / elapsed_s:.0%} of one core)")


if __name__ == "__main__":
    main()
