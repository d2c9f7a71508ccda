"""`telequeue load ... --via URL`: the file handed to a running Flower (POST /api/jobs) through the
real CLI, a real Flower, a worker and the sandbox: what the CLI shows and exits with, what its
process imports before the upload, and the refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.data import write_contacts
from tests.support.flowerjobs import AUTH, FlowerStack
from workers.dev import devstack

#: `telequeue` as the console script runs it, then what the process imported, on stderr's last line
PROBE = ("import json, sys\nfrom workers.cli import main\nsys.argv = ['telequeue', *sys.argv[1:]]\n"
         "try:\n    main()\nfinally:\n    print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
#: what a new `telequeue load` process spends its start-up on (BENCHMARKS.md): none of it before a hand-over
CLI_LIBRARIES = ("typer", "click", "rich", "pydantic", "pydantic_settings", "redis", "celery", "kombu",
                 "phonenumbers", "requests", "workers.settings", "workers.cli.commands")


@pytest.fixture(scope="module")
def fs(redis_url, tmp_path_factory):
    flower_stack = FlowerStack(redis_url, tmp_path_factory.mktemp("clivia"))
    yield flower_stack
    flower_stack.stop()


def telequeue(fs, *args: str, auth: str | None = ":".join(AUTH), probe: bool = False, **env: str):
    environ = {**fs.stack.env, **env}
    if auth is not None:
        environ["TELEQUEUE_LOAD_VIA_AUTH"] = auth
    command = [sys.executable, "-c", PROBE] if probe else [sys.executable, "-m", "workers"]
    return subprocess.run([*command, *args], env=environ, capture_output=True, text=True, timeout=120)


def job(fs, job_id: str) -> dict:
    return {k.decode(): v.decode() for k, v in fs.stack.redis.hgetall(f"{fs.stack.prefix}job:{job_id}").items()}


def test_a_load_handed_to_flower_is_followed_to_its_summary_as_the_cli_own_load(fs, tmp_path):
    write_contacts(tmp_path / "контакти.csv", 30, offset=810_000, bad=2, dups=1)
    done = telequeue(fs, "load", "ringostat-campaign", "--campaign", "81", "--via", fs.url,
                     str(tmp_path / "контакти.csv"))
    assert done.returncode == 0, done.stderr
    job_id = done.stderr.split("job ", 1)[1].split()[0]  # `job ID` first, then the progress bar
    assert "33/33" in done.stderr
    summary = {cells[1].strip(): cells[2].strip() for cells in (line.split("│") for line in done.stdout.splitlines())
               if len(cells) == 4}
    assert (summary["state"], summary["delivered"], summary["rejected"]) == ("done", "30", "3")
    assert f"telequeue job report {job_id} -o failed.csv" in done.stdout
    assert f"job {job_id}: campaign 81 from контакти.csv" in done.stdout  # the file's own name, as the CLI shows it
    record = job(fs, job_id)
    assert (record["valid"], record["rejected"], record["kind"]) == ("30", "3", "ringostat-campaign")
    assert len(fs.stack.rows(81)) == 30


def test_a_detached_hand_over_prints_the_job_id_exits_once_enqueued_and_imports_none_of_the_cli_libraries(fs, tmp_path):
    write_contacts(tmp_path / "c.csv", 450, offset=820_000)
    done = telequeue(fs, "load", "ringostat-campaign", "--campaign", "82", "--detach", str(tmp_path / "c.csv"),
                     probe=True, TELEQUEUE_LOAD_VIA=fs.url)  # the loader from the environment
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip().splitlines()[-1]
    assert job(fs, job_id)["produced"] == "1"  # the whole file enqueued when the CLI exits
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "workers.cli.via" in modules
    assert sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in CLI_LIBRARIES)) == []
    devstack.wait_until(lambda: len(fs.stack.rows(82)) == 450, 60, "the rows at the vendor")


def test_the_full_cli_hands_over_too(fs, tmp_path):
    # `workers.cli.commands:main` (the entry point before workers.cli.main): --via is its option as well
    write_contacts(tmp_path / "c.csv", 5, offset=830_000)
    environ = {**fs.stack.env, "TELEQUEUE_LOAD_VIA_AUTH": ":".join(AUTH)}
    done = subprocess.run([sys.executable, "-c", "from workers.cli.commands import main; main()", "load",
                           "obzvonilka-contacts", "--base", "1", "--via", fs.url, "--detach", str(tmp_path / "c.csv")],
                          env=environ, capture_output=True, text=True, timeout=120)
    # write_contacts has no external_code column: Flower's load refuses the file as the CLI would
    assert done.returncode == 1 and done.stderr.startswith("error: ") and "external_code" in done.stderr, done.stderr


def test_refusals_are_one_line_and_exit_1_with_no_job(fs, tmp_path):
    (tmp_path / "nophone.csv").write_text("name;city\nIvan;Kyiv\n", encoding="utf-8")
    write_contacts(tmp_path / "c.csv", 3, offset=840_000)
    jobs_before = fs.job_count()
    own = fs.stack.cli("load", "ringostat-campaign", "--campaign", "84", str(tmp_path / "nophone.csv"))
    handed = telequeue(fs, "load", "ringostat-campaign", "--campaign", "84", "--via", fs.url,
                       str(tmp_path / "nophone.csv"))
    assert (own.returncode, handed.returncode) == (1, 1)
    # the same reason as the CLI's own load, the file named as the user gave it
    assert handed.stderr.strip() == own.stderr.strip().replace(str(tmp_path) + "/", ""), (own.stderr, handed.stderr)
    no_auth = telequeue(fs, "load", "ringostat-campaign", "--campaign", "84", "--via", fs.url, str(tmp_path / "c.csv"),
                        auth=None)
    assert no_auth.returncode == 1 and "refused the credentials (401)" in no_auth.stderr
    assert "set TELEQUEUE_LOAD_VIA_AUTH" in no_auth.stderr
    in_url = telequeue(fs, "load", "ringostat-campaign", "--campaign", "84", "--via",
                       fs.url.replace("//", f"//{AUTH[0]}:{AUTH[1]}@"), str(tmp_path / "c.csv"))
    assert in_url.returncode == 1 and "never in the URL" in in_url.stderr and AUTH[1] not in in_url.stderr
    nobody = telequeue(fs, "load", "ringostat-campaign", "--campaign", "84", "--via",
                       f"http://127.0.0.1:{devstack.free_port()}", str(tmp_path / "c.csv"))
    assert nobody.returncode == 1 and "cannot reach the loader" in nobody.stderr
    missing = telequeue(fs, "load", "ringostat-campaign", "--campaign", "84", "--via", fs.url, str(tmp_path / "x.csv"))
    assert missing.returncode == 1 and "No such file" in missing.stderr
    assert fs.job_count() == jobs_before


def test_resume_reads_the_file_here_whatever_via_says(fs, tmp_path):
    write_contacts(tmp_path / "c.csv", 3, offset=850_000)
    args = ("load", "ringostat-campaign", "--campaign", "85", "--resume", "20260101-000000-abcdef", str(tmp_path / "c.csv"))
    own = fs.stack.cli(*args)
    handed = telequeue(fs, *args, "--via", fs.url)
    assert own.returncode == handed.returncode != 0
    assert handed.stderr == own.stderr  # the CLI's own --resume answered, not Flower


def test_a_file_over_flowers_upload_limit_is_named_as_the_likely_cause(redis_url, tmp_path):
    (tmp_path / "small").mkdir()
    small = FlowerStack(redis_url, tmp_path / "small", flower_upload_max_bytes="2000")
    try:
        write_contacts(tmp_path / "c.csv", 2000, offset=860_000)
        done = telequeue(small, "load", "ringostat-campaign", "--campaign", "86", "--via", small.url,
                         str(tmp_path / "c.csv"))
        assert done.returncode == 1 and "over the loader's TELEQUEUE_FLOWER_UPLOAD_MAX_BYTES" in done.stderr
        assert small.job_count() == 0
    finally:
        small.stop()


def test_resume_after_a_handed_over_load_knows_the_file_by_its_own_name(fs, tmp_path):
    # Flower's temporary copy has a safe name (my_contacts_1_.csv); the job keeps the file's own
    path = tmp_path / "my contacts (1).csv"
    write_contacts(path, 5, offset=870_000)
    done = telequeue(fs, "load", "ringostat-campaign", "--campaign", "87", "--via", fs.url, "--detach", str(path))
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip().splitlines()[-1]
    record = job(fs, job_id)
    assert (json.loads(record["source"])["file"], record["target"]) == (
        "my contacts (1).csv", "campaign 87 from my contacts (1).csv")
    # --resume reads the file here: its name and first bytes match the job's, so only the job's state refuses
    resumed = fs.stack.cli("load", "ringostat-campaign", "--campaign", "87", "--resume", job_id, str(path))
    assert resumed.returncode == 1, resumed.stderr
    assert f"job {job_id} cannot be resumed: its whole file was loaded" in resumed.stderr, resumed.stderr
