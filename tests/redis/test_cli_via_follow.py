"""What a load handed to a running loader (workers.cli.via) shows once its job exists:
commands.follow_handed_over, in a process of its own, against the test Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

JOB = "20260101-000000-abcdef"
#: follow_handed_over(JOB), with `commands.warn_if_no_worker` replaced by argv[1]'s code when given
FOLLOW = textwrap.dedent('''
    import os, signal, sys, time
    from workers.cli import commands

    if len(sys.argv) > 1:
        exec(sys.argv[1])
    raise SystemExit(commands.follow_handed_over(os.environ.get("JOB", "%s")))
''' % JOB)


def follow(key_prefix: str, patch: str | None = None, job_id: str = JOB) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOB": job_id, "TELEQUEUE_KEY_PREFIX": key_prefix, "TELEQUEUE_BROKER_KEY_PREFIX": key_prefix + "broker:"}
    return subprocess.run([sys.executable, "-c", FOLLOW, *([patch] if patch else [])], env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_job_not_in_the_redis_this_cli_reads_is_one_line_and_exit_1(redis_url, key_prefix):
    # Flower made the job in its Redis (or under its prefix); this CLI's settings name another
    done = follow(key_prefix)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert f"job {JOB} was started by the loader" in done.stderr and "--detach" in done.stderr


def test_sigterm_before_the_progress_bar_is_one_line_and_exit_130(r, key_prefix):
    from workers.jobs.store import JobStore
    from workers.redis.keys import Keys

    job_id = JobStore(r, Keys(key_prefix)).create(kind="ringostat-campaign", vendor="ringostat", account="default",
                                                  target="campaign 1", params={"campaign_id": 1})
    # SIGTERM while the queue's workers are asked for (warn_if_no_worker): as Ctrl-C in the progress bar
    done = follow(key_prefix, "commands.warn_if_no_worker = lambda job_id: "
                              "(os.kill(os.getpid(), signal.SIGTERM), time.sleep(10))", job_id=job_id)
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines()[-1] == (f"stopped following; job {job_id} goes on: telequeue job follow {job_id} "
                                            f"| job pause/cancel {job_id}"), done.stderr
