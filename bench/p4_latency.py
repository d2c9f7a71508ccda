"""P4: latency of a single operation through an idle worker, and of a new job's first row.

    python bench/p4_latency.py                       # 200 single ops + 10 job starts each way, ~2 min
    python bench/p4_latency.py --ops 50 --jobs 3     # smoke run
    python bench/p4_latency.py --env TELEQUEUE_ROWS_IN_FLIGHT=16 --pool prefork --concurrency 2
    python bench/p4_latency.py --skip-single --skip-in-process --cli-tree /tmp/main --cli-tree .   # two CLIs alternated

The sandbox answers at once (no latency, no limit). One worker process
(`celery -A workers.app worker -Q ringostat,bulk -P POOL -c C`, threads:4 by default), settings
from TELEQUEUE_* (limit 100000/s, so the limiter never waits) plus any --env KEY=VALUE.

single op  `workers.client.Telequeue().enqueue("ringostat.campaign_rows.add", {...})`, one op
           every --spacing-s seconds (the worker is idle between them; 3 warm-up ops are left
           out). Latency = the sandbox's `arrived_t` of the request (stamped when it reached
           the handler) - time.time() just before enqueue(). Same machine, same clock.
           Targets: p50 < 20 ms, p99 < 100 ms.
first row  `python -m workers load ringostat-campaign --detach FILE` (the `telequeue` command,
           a --job-rows CSV), the worker idle, the sandbox reset before each: from just before
           the process starts to the job's first arrival at the sandbox; also from the job's
           created_at (when the CLI made the job) to that arrival. Target < 200 ms from start.
in process `Telequeue().load_campaign(rows, campaign_id=...)` of the same rows, called in this
           process (another app; its Telequeue made long before): from just before the call to
           the first arrival, and from the job's created_at. The first call is shown apart (it
           loads the job kind's module and the region's phone metadata).
via Flower `--via-flower`: the file handed to a running loader, Flower's `POST /api/jobs` (Flower
           started with basic auth from FLOWER_BASIC_AUTH, as the README says), a multipart
           upload of the same CSV each of four ways, alternated job by job: `curl` (a new curl
           process, credentials from its stdin config, never argv), `http.client` (stdlib, in
           this process, a new connection per upload: workers.cli.via's Loader, the CLI's own
           uploader; runs before 2026-12-01's fifth session sent a body built in memory) and
           `python` (a new `python -c` process that imports only the stdlib's http.client: what a
           thin uploader pays), and `telequeue`
           (`python -m workers load ... --via URL --detach`, Flower's credentials from
           TELEQUEUE_LOAD_VIA_AUTH: the CLI's own hand-over, workers.cli.via). From just
           before the process starts / the connection opens to the job's first arrival at the
           sandbox; also to the 202 answer, and from the job's created_at. The first upload
           (Flower loads the job kind's module then) is a warm-up, shown apart.
start-up   what a new process pays before it can load: `python -c pass`, the libraries the load
           path needs (typer, redis, pydantic-settings, phonenumbers, Celery), `python -m workers
           --help`, and `from workers.client import Telequeue; Telequeue()` (import + construction,
           timed inside the process). Whether the project's .pyc files exist is recorded: without
           them (PYTHONDONTWRITEBYTECODE=1 on a source tree) every start compiles the project.
Results: bench/out/p4_latency.json, keyed by command line.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (  # noqa: E402
    CAMPAIGN_ID, LOGS, OUT, PROJECT_ID, PY, ROOT, Procs, cli_load, delete_prefix, ensure_contacts, exit_on_sigterm,
    git_state, load_now, load_text, machine, parse_env, poll, redis_client, telequeue_client, telequeue_env,
    unique_prefix, write_result,
)
from _stack import devstack  # noqa: E402  (imported in one place)

RESULT = "p4_latency"
TASK = "ringostat.campaign_rows.add"
WARMUP = 3
TARGETS_MS = {"single_p50": 20.0, "single_p99": 100.0, "first_row": 200.0}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values_ms: list[float]) -> dict:
    if not values_ms:
        return {"n": 0}
    return {"n": len(values_ms), "p50_ms": round(statistics.median(values_ms), 2),
            "p90_ms": round(percentile(values_ms, 90), 2), "p99_ms": round(percentile(values_ms, 99), 2),
            "min_ms": round(min(values_ms), 2), "max_ms": round(max(values_ms), 2)}


def single_ops(client, sandbox, count: int, spacing_s: float) -> dict:
    sandbox.control.reset()
    load = load_now()
    sent: dict[str, float] = {}
    base = int(time.time() * 1000) % 10_000_000  # distinct numbers per run: no duplicate at the vendor
    for i in range(count + WARMUP):
        phone = f"38093{(base + i) % 10_000_000:07d}"
        before = time.time()
        client.enqueue(TASK, {"campaign_id": CAMPAIGN_ID, "phone_number": phone, "fio": "P4"})
        if i >= WARMUP:
            sent[phone] = before
        time.sleep(spacing_s)
    poll(lambda: sandbox.control.stats()["accepted"] >= count + WARMUP, 10, 0.05)
    arrived = {row["phone_number"]: row["arrived_t"] for row in sandbox.control.rows(project=PROJECT_ID,
                                                                                     campaign=CAMPAIGN_ID)}
    latencies = [1000 * (arrived[phone] - t) for phone, t in sent.items() if phone in arrived]
    # an op still in flight when the next was sent would not have met an idle worker
    overlapping = sum(1 for ms in latencies if ms >= 1000 * spacing_s)
    return {**spread(latencies), "missing": len(sent) - len(latencies), "spacing_s": spacing_s,
            "not_idle": overlapping, "load_at_start": load, "load_at_end": load_now()}


def _settle(job, cancel: bool) -> None:
    """Let the job end before the next (the worker idle again): cancelled first with --cancel-after-first-row,
    so a big file's rows need not all be sent."""
    if cancel:
        job.cancel()
    poll(lambda: job.status().finished, 120, 0.1)


def first_rows(client, sandbox, env: dict, runs: int, job_rows: int, settle_s: float,
               trees: list[Path] | None = None, cancel: bool = False) -> dict[Path, dict]:
    """Per source tree of the CLI (the trees alternated job by job, one worker of this tree)."""
    trees = trees or [ROOT]
    csv_path = ensure_contacts(job_rows, bad_share=0.0, dup_share=0.0, seed=4)
    load = load_now()
    seen = {tree: {"from_start": [], "from_created": [], "created_after": [], "cli_exit": []} for tree in trees}
    for _ in range(runs):
        for tree in trees:
            sandbox.control.reset()
            time.sleep(settle_s)  # the worker idle again
            job_id, started, ended = cli_load(env, csv_path, tree=tree)
            job = client.job(job_id)
            if not poll(lambda: sandbox.control.stats()["accepted"] > 0, 30, 0.02):
                raise TimeoutError(f"job {job_id}: no row arrived within 30 s")
            first = min(row["arrived_t"] for row in sandbox.control.rows(project=PROJECT_ID, campaign=CAMPAIGN_ID))
            created = job.status().created_at
            seen[tree]["from_start"].append(1000 * (first - started))
            seen[tree]["from_created"].append(1000 * (first - created))
            seen[tree]["created_after"].append(1000 * (created - started))
            seen[tree]["cli_exit"].append(1000 * (ended - started))
            _settle(job, cancel)
    end = load_now()
    return {tree: {"job_rows": job_rows, "from_load_start": spread(s["from_start"]),
                   "from_job_created": spread(s["from_created"]), "job_created_after_start": spread(s["created_after"]),
                   "cli_exit_after": spread(s["cli_exit"]), "runs_ms": [round(x, 1) for x in s["from_start"]],
                   "load_at_start": load, "load_at_end": end} for tree, s in seen.items()}


def in_process_loads(client, sandbox, runs: int, job_rows: int, settle_s: float) -> dict:
    """Another app's load through workers.client, in this process: call -> first row at the vendor."""
    csv_path = ensure_contacts(job_rows, bad_share=0.0, dup_share=0.0, seed=4)
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = [{"phone": row["phone"], "fio": row["fio"]} for row in csv.DictReader(handle)]
    load = load_now()
    from_call, from_created, returned_after = [], [], []
    for _ in range(runs):
        sandbox.control.reset()
        time.sleep(settle_s)  # the worker idle again
        started = time.time()
        job = client.load_campaign(rows, campaign_id=CAMPAIGN_ID)
        returned = time.time()
        if not poll(lambda: sandbox.control.stats()["accepted"] > 0, 30, 0.02):
            raise TimeoutError(f"job {job.id}: no row arrived within 30 s")
        first = min(row["arrived_t"] for row in sandbox.control.rows(project=PROJECT_ID, campaign=CAMPAIGN_ID))
        from_call.append(1000 * (first - started))
        from_created.append(1000 * (first - job.status().created_at))
        returned_after.append(1000 * (returned - started))
        poll(lambda: job.status().finished, 60, 0.1)
    later = from_call[1:]
    return {"job_rows": job_rows, "first_call_ms": round(from_call[0], 1), "from_call": spread(later),
            "from_job_created": spread(from_created[1:]), "call_returns_after": spread(returned_after[1:]),
            "runs_ms": [round(x, 1) for x in from_call], "load_at_start": load, "load_at_end": load_now()}


FLOWER_AUTH = ("bench", "bench-p4-flower-pass")
UPLOAD_FIELDS = {"kind": "ringostat-campaign", "campaign": str(CAMPAIGN_ID)}
#: a new process with the stdlib only: the least a thin uploader can pay (argv: url, file; auth from env)
STDLIB_UPLOAD = r"""
import base64, http.client, json, os, sys, urllib.parse, uuid
url, path = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2]
boundary = uuid.uuid4().hex
parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
         for k, v in (("kind", "ringostat-campaign"), ("campaign", "456"))]
with open(path, "rb") as f:
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{os.path.basename(path)}"\r\n'
                 f'Content-Type: text/csv\r\n\r\n'.encode() + f.read() + f'\r\n--{boundary}--\r\n'.encode())
body = b"".join(parts)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
conn.request("POST", "/api/jobs", body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
             "Authorization": "Basic " + base64.b64encode(os.environ["P4_FLOWER_AUTH"].encode()).decode(),
             "X-Requested-With": "p4"})
reply = conn.getresponse()
data = reply.read()
if reply.status != 202:
    sys.exit(f"{reply.status} {data[:300]!r}")
print(json.loads(data)["job_id"])
"""
UPLOAD_WAYS = ("curl", "http.client", "python", "telequeue")


def upload(way: str, flower_url: str, csv_path: Path) -> tuple[str, float, float]:
    """One POST /api/jobs of `csv_path`; returns the job id, the time just before the upload
    started (the process spawned, or the connection opened) and the time the 202 was read."""
    user_pass = ":".join(FLOWER_AUTH)
    started = time.time()
    if way == "http.client":
        # the CLI's own uploader (workers.cli.via: http.client, the file streamed), in this process
        from workers.cli.via import Loader

        fields = {k: v for k, v in UPLOAD_FIELDS.items() if k != "kind"}
        with Loader(flower_url, user_pass) as loader:
            job_id = loader.upload(UPLOAD_FIELDS["kind"], fields, str(csv_path))
        return job_id, started, time.time()
    if way == "curl":
        # credentials through curl's config on stdin, never on its command line
        args = ["curl", "-sS", "--fail-with-body", "-K", "-", "-H", "X-Requested-With: p4",
                *(a for k, v in UPLOAD_FIELDS.items() for a in ("-F", f"{k}={v}")),
                "-F", f"file=@{csv_path};type=text/csv", f"{flower_url}/api/jobs"]
        done = subprocess.run(args, input=f'user = "{user_pass}"\n', capture_output=True, text=True, timeout=60)
    elif way == "telequeue":
        done = subprocess.run([PY, "-m", "workers", "load", "ringostat-campaign", "--campaign", str(CAMPAIGN_ID),
                               "--via", flower_url, "--detach", str(csv_path)],
                              env={**os.environ, "TELEQUEUE_LOAD_VIA_AUTH": user_pass}, cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    elif way == "python":
        done = subprocess.run([PY, "-c", STDLIB_UPLOAD, flower_url, str(csv_path)],
                              env={**os.environ, "P4_FLOWER_AUTH": user_pass}, capture_output=True, text=True,
                              timeout=60)
    else:
        raise ValueError(f"unknown upload way {way!r}")
    answered = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"{way} upload exited {done.returncode}: {(done.stdout + done.stderr)[-500:]}")
    text = done.stdout.strip()
    return (json.loads(text)["job_id"] if text.startswith("{") else text.splitlines()[-1]), started, answered


def flower_first_rows(client, sandbox, flower_url: str, runs: int, job_rows: int, settle_s: float,
                      ways: tuple[str, ...] = UPLOAD_WAYS, cancel: bool = False) -> dict:
    """The file handed to a running Flower, each way alternated job by job; one warm-up upload first."""
    csv_path = ensure_contacts(job_rows, bad_share=0.0, dup_share=0.0, seed=4)
    load = load_now()
    warm_up = None
    seen = {way: {"from_start": [], "from_created": [], "created_after": [], "answered": []} for way in ways}
    for run in range(runs + 1):
        for way in ways if run else ways[:1]:
            sandbox.control.reset()
            time.sleep(settle_s)  # the worker idle again
            job_id, started, answered = upload(way, flower_url, csv_path)
            job = client.job(job_id)
            if not poll(lambda: sandbox.control.stats()["accepted"] > 0, 30, 0.02):
                raise TimeoutError(f"job {job_id}: no row arrived within 30 s")
            first = min(row["arrived_t"] for row in sandbox.control.rows(project=PROJECT_ID, campaign=CAMPAIGN_ID))
            created = job.status().created_at
            _settle(job, cancel)
            if not run:
                warm_up = {"way": way, "from_start_ms": round(1000 * (first - started), 1)}
                continue
            seen[way]["from_start"].append(1000 * (first - started))
            seen[way]["from_created"].append(1000 * (first - created))
            seen[way]["created_after"].append(1000 * (created - started))
            seen[way]["answered"].append(1000 * (answered - started))
    end = load_now()
    return {"job_rows": job_rows, "warm_up": warm_up, "load_at_start": load, "load_at_end": end,
            "ways": {way: {"from_upload_start": spread(s["from_start"]), "from_job_created": spread(s["from_created"]),
                           "job_created_after_start": spread(s["created_after"]),
                           "answered_after": spread(s["answered"]), "runs_ms": [round(x, 1) for x in s["from_start"]]}
                     for way, s in seen.items()}}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def _timed_runs(args: list[str], env: dict, runs: int) -> dict:
    times = []
    for _ in range(runs):
        started = time.time()
        subprocess.run(args, env={**os.environ, **env}, cwd=ROOT, capture_output=True, timeout=60, check=True)
        times.append(1000 * (time.time() - started))
    return spread(times)


#: what the load path cannot do without: the CLI's parser, settings, Redis, phone checks, a Celery producer
LOAD_LIBRARIES = "import typer, redis, pydantic_settings, phonenumbers; from celery import Celery"
CLIENT_START = ("import time; t = time.time(); from workers.client import Telequeue; Telequeue(); "
                "print(1000 * (time.time() - t))")


def start_up_ms(env: dict, runs: int = 5) -> dict:
    """Floors under the first row from a new process: the interpreter, the libraries, the CLI, the client."""
    client = []
    for _ in range(runs):
        done = subprocess.run([PY, "-c", CLIENT_START], env={**os.environ, **env}, cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=True)
        client.append(float(done.stdout.strip().splitlines()[-1]))
    return {"python": _timed_runs([PY, "-c", "pass"], env, runs),
            "libraries": _timed_runs([PY, "-c", LOAD_LIBRARIES], env, runs),
            "cli_help": _timed_runs([PY, "-m", "workers", "--help"], env, runs),
            "client_import_and_init": spread(client),
            "project_bytecode": Path(importlib.util.cache_from_source(str(ROOT / "workers" / "cli" / "commands.py"))).exists()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=200, help="single ops measured")
    parser.add_argument("--spacing-s", type=float, default=0.25, help="between single ops")
    parser.add_argument("--jobs", type=int, default=10, help="job starts measured")
    parser.add_argument("--job-rows", type=int, default=500)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--env", action="append", metavar="KEY=VALUE", help="a setting for the workers and CLI")
    parser.add_argument("--cli-tree", action="append", type=Path, metavar="PATH",
                        help="run the CLI of this source tree (repeatable: the trees alternate job by job; "
                             "the worker stays this tree's), e.g. `git archive main | tar -x -C /tmp/main`")
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--skip-first-row", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--via-flower", action="store_true",
                        help="also hand the file to a running Flower (POST /api/jobs): curl, http.client, python, telequeue --via")
    parser.add_argument("--cancel-after-first-row", action="store_true",
                        help="cancel each job once its first row arrived (for a big --job-rows: the CLI's and "
                             "Flower's jobs; the CLI process still enqueues the whole file)")
    parser.add_argument("--upload-way", action="append", choices=UPLOAD_WAYS,
                        help="with --via-flower: only these ways (repeatable)")
    args = parser.parse_args()
    exit_on_sigterm()
    extra = parse_env(args.env)
    procs = Procs()
    prefix = unique_prefix("p4")
    results: dict = {}
    try:
        sandbox = procs.sandbox()
        env = telequeue_env(prefix, sandbox.url, rate_per_s=100000, burst=100, **extra)
        client = telequeue_client(env)
        procs.ready_worker("workers.app", env, queues="ringostat,bulk", pool=args.pool, concurrency=args.concurrency,
                           name="p4tq", broker_prefix=prefix + "broker:", log="p4-worker")
        shape = f"1 process -P {args.pool} -c {args.concurrency}"
        print(f"P4 latency, {shape}, env {extra or '{}'}")
        if not args.skip_single:
            r = results["single_op"] = single_ops(client, sandbox, args.ops, args.spacing_s)
            print(f"  single op, enqueue -> vendor: p50 {r['p50_ms']:.1f} ms (< 20), p90 {r['p90_ms']:.1f}, "
                  f"p99 {r['p99_ms']:.1f} ms (< 100), max {r['max_ms']:.1f}; n={r['n']}, missing {r['missing']}, "
                  f"not idle {r['not_idle']}; {load_text(r['load_at_start'])}")
        if not args.skip_first_row:
            trees = [tree.resolve() for tree in args.cli_tree or [ROOT]]
            by_tree = first_rows(client, sandbox, env, args.jobs, args.job_rows, 1.0, trees,
                                 cancel=args.cancel_after_first_row)
            if args.cli_tree:
                results["first_row_by_cli_tree"] = {str(tree): r for tree, r in by_tree.items()}
            else:
                results["first_row"] = by_tree[ROOT]
            for tree, r in by_tree.items():
                s, c, e = r["from_load_start"], r["from_job_created"], r["cli_exit_after"]
                j = r["job_created_after_start"]
                print(f"  first row of a new job (`telequeue load --detach`{f', CLI from {tree}' if args.cli_tree else ''}): "
                      f"from process start p50 {s['p50_ms']:.0f} ms, "
                      f"max {s['max_ms']:.0f} (< 200); job created after p50 {j['p50_ms']:.0f} ms; from job created "
                      f"p50 {c['p50_ms']:.0f} ms, max {c['max_ms']:.0f}; CLI exits after p50 {e['p50_ms']:.0f} ms; "
                      f"n={s['n']}; {load_text(r['load_at_start'])} -> {load_text(r['load_at_end'])}")
        if args.via_flower:
            port = devstack.free_port()
            flower_url = f"http://127.0.0.1:{port}"
            LOGS.mkdir(parents=True, exist_ok=True)
            procs.flower(env, port=port, basic_auth=":".join(FLOWER_AUTH), logfile=LOGS / "p4-flower.log")
            devstack.wait_until(lambda: _answers(f"{flower_url}/healthcheck"), 30, "flower to answer")
            ways = tuple(args.upload_way or UPLOAD_WAYS)
            r = results["via_flower"] = flower_first_rows(client, sandbox, flower_url, args.jobs, args.job_rows, 1.0,
                                                          ways, cancel=args.cancel_after_first_row)
            print(f"  first row of a new job via Flower's POST /api/jobs (warm-up {r['warm_up']['from_start_ms']:.0f} ms, "
                  f"{load_text(r['load_at_start'])} -> {load_text(r['load_at_end'])}):")
            for way, w in r["ways"].items():
                s, a, c, j = w["from_upload_start"], w["answered_after"], w["from_job_created"], w["job_created_after_start"]
                print(f"    {way:11}: from upload start p50 {s['p50_ms']:.0f} ms, p99 {s['p99_ms']:.0f}, "
                      f"min {s['min_ms']:.0f}, max {s['max_ms']:.0f} (< 200); job created after p50 {j['p50_ms']:.0f} ms; "
                      f"answered (a process: exited) after p50 {a['p50_ms']:.0f} ms; from job created p50 {c['p50_ms']:.0f} ms; n={s['n']}")
        if not args.skip_in_process:
            r = results["in_process"] = in_process_loads(client, sandbox, args.jobs + 1, args.job_rows, 1.0)
            s, c, e = r["from_call"], r["from_job_created"], r["call_returns_after"]
            print(f"  first row of a new job (Telequeue().load_campaign in this process): from the call p50 "
                  f"{s['p50_ms']:.0f} ms, max {s['max_ms']:.0f} (first call {r['first_call_ms']:.0f}); from job created "
                  f"p50 {c['p50_ms']:.0f} ms; the call returns after p50 {e['p50_ms']:.0f} ms; n={s['n']}; "
                  f"{load_text(r['load_at_start'])}")
        if not args.skip_first_row:
            h = results["start_up"] = start_up_ms(env)
            print(f"  start-up, p50: `python -c pass` {h['python']['p50_ms']:.0f} ms; the load path's libraries "
                  f"{h['libraries']['p50_ms']:.0f} ms; `python -m workers --help` {h['cli_help']['p50_ms']:.0f} ms; "
                  f"import workers.client + Telequeue() {h['client_import_and_init']['p50_ms']:.0f} ms; "
                  f"project .pyc present: {h['project_bytecode']}")
        results["shape"] = shape
    finally:
        procs.stop_all()
        delete_prefix(redis_client(), prefix)
    command = "python " + " ".join(["bench/p4_latency.py", *sys.argv[1:]])
    path = OUT / f"{RESULT}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("runs", {})[command] = {**results, "env": extra, "git": git_state(), "command": command,
                                            "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    data.update(targets_ms=TARGETS_MS, machine=machine())
    write_result(RESULT, data)
    print(f"  -> {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
