"""`telequeue load --detach` gets its chunks onto the broker without the worker's Celery app,
the other vendors' task modules, rich, Flower, metrics or the HTTP stack (requests): what the first row of a new job waits
for is the load path's own needs (bench/p4_latency.py times it; BENCHMARKS.md, P4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from workers.redis.keys import Keys

#: the CLI in a process of its own, then what that process imported
LOAD = textwrap.dedent('''
    import json, sys
    from workers.cli import commands

    sys.argv = ["telequeue", "load", "ringostat-campaign", "--campaign", "9", "--detach", sys.argv[1]]
    try:
        commands.main()
    finally:
        print(json.dumps(sorted(sys.modules)), file=sys.stderr)
''')

NOT_LOADED = ("workers.app", "workers.runtime.worker_runtime", "workers.metrics", "prometheus_client",
              "workers.flower", "flower", "workers.dev", "rich", "tasks.pozvonim", "tasks.obzvonilka",
              "tasks.salesscriptprompter",
              # the HTTP stack is the workers': a load only checks rows and publishes them
              "requests", "urllib3", "vendors.http", "vendors.deadline_adapter", "vendors.direct",
              "vendors.ringostat.client")


def test_a_detached_load_publishes_without_the_worker_app_or_rich(r, key_prefix, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("phone;fio\n" + "".join(f"+38093{i:07d};К {i}\n" for i in range(250)), encoding="utf-8")
    env = {**os.environ, "TELEQUEUE_REDIS_URL": os.environ["TELEQUEUE_REDIS_URL"], "TELEQUEUE_KEY_PREFIX": key_prefix,
           "TELEQUEUE_BROKER_KEY_PREFIX": key_prefix + "broker:"}
    done = subprocess.run([sys.executable, "-c", LOAD, str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip().splitlines()[-1]
    assert r.hget(Keys(key_prefix).job(job_id), "valid") == b"250"
    assert r.llen(f"{key_prefix}broker:ringostat") == 3  # its chunks reached the broker
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert {"workers.cli.commands", "tasks.ringostat", "celery"} <= modules  # the probe sees the load path
    assert sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in NOT_LOADED)) == []
