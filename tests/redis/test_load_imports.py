"""`telequeue load --detach` gets its chunks onto the broker without the worker's Celery app,
the other vendors' task modules, rich, Flower, metrics or the HTTP stack (requests): what the first row of a new job waits
for is the load path's own needs (bench/p4_latency.py times it; BENCHMARKS.md, P4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from workers.redis.keys import Keys

#: the CLI in a process of its own, then what that process imported
LOAD = textwrap.dedent('''
    import json, sys
    from workers.cli import commands

    sys.argv = ["telequeue", "load", *json.loads(sys.argv[2]), "--detach", sys.argv[1]]
    try:
        commands.main()
    finally:
        print(json.dumps(sorted(sys.modules)), file=sys.stderr)
''')

NOT_LOADED = ("workers.app", "workers.runtime.worker_runtime", "workers.metrics", "prometheus_client",
              "workers.flower", "flower", "workers.dev", "rich", "tasks.pozvonim", "tasks.salesscriptprompter",
              # the HTTP stack is the workers': a load only checks rows and publishes them
              "requests", "urllib3", "vendors.http", "vendors.deadline_adapter", "vendors.direct",
              "vendors.ringostat.client",
              "vendors.ringostat.minicrm", "vendors.obzvonilka.client", "vendors.pozvonim")

#: kind: its options, the file's header and one row per number, its queue and how many chunks its 250 rows
#: make there, its task module, the other vendors'
LOADS = {
    "ringostat-campaign": (["--campaign", "9"], "phone;fio\n", "+38093{:07d};К {}\n", "ringostat", 3,
                           "tasks.ringostat", ("tasks.obzvonilka",)),
    "obzvonilka-contacts": (["--base", "9"], "external_code;phone;name\n", "c{1};+38093{0:07d};К {1}\n", "obzvonilka",
                            3, "tasks.obzvonilka", ("tasks.ringostat",)),
}


@pytest.mark.parametrize("kind", sorted(LOADS))
def test_a_detached_load_publishes_without_the_worker_app_rich_or_requests(r, key_prefix, tmp_path, kind):
    options, header, row, queue, chunks, task_module, others = LOADS[kind]
    path = tmp_path / "rows.csv"
    path.write_text(header + "".join(row.format(i, i) for i in range(250)), encoding="utf-8")
    env = {**os.environ, "TELEQUEUE_REDIS_URL": os.environ["TELEQUEUE_REDIS_URL"], "TELEQUEUE_KEY_PREFIX": key_prefix,
           "TELEQUEUE_BROKER_KEY_PREFIX": key_prefix + "broker:"}
    done = subprocess.run([sys.executable, "-c", LOAD, str(path), json.dumps([kind, *options])], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip().splitlines()[-1]
    assert r.hget(Keys(key_prefix).job(job_id), "valid") == b"250"
    assert r.llen(f"{key_prefix}broker:{queue}") == chunks  # its chunks reached the broker, each once
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert {"workers.cli.commands", task_module, "celery"} <= modules  # the probe sees the load path
    assert sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in (*NOT_LOADED, *others))) == []
