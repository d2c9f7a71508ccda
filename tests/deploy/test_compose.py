"""Offline checks of the deployment files: docker-compose.yml, deploy/Dockerfile, packaging.

No Docker needed. The compose checks need PyYAML (test extra); the schema check runs only
where check-jsonschema is installed.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.deployfiles import (FLOWER_MAX_TASKS, FLOWER_SAVE_INTERVAL_MS, PINNED_IMAGE,
                                       longest_chunk_after_sigterm_s, option)
from workers.routing import BULK_QUEUE, VENDORS, queue_for
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

#: env names that hold a credential; their value must never be written in the compose file.
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
#: a value that is only a Compose interpolation, e.g. `${FLOWER_BASIC_AUTH:?...}`.
INTERPOLATION_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+]).*)?\}$")
HEARTBEAT_PROBE = ROOT / "deploy" / "heartbeat-fresh"


# ---- helpers ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (add `pyyaml` to the test extra)")
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))  # resolves anchors and `<<` merges


def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    assert isinstance(cmd, list), f"use the exec (list) form for commands, got {cmd!r}"
    return [str(arg) for arg in cmd]


def environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {k: (v if sep else None) for k, sep, v in (item.partition("=") for item in env)}
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def mount_targets(service: dict) -> list[str]:
    return [v["target"] if isinstance(v, dict) else str(v).split(":")[1] for v in service.get("volumes", [])]


def interpolation_default(value: str) -> str:
    """`${VAR:-default}` -> default; anything else as it is."""
    m = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-(.*)\}", value)
    return m.group(1) if m else value


def duration_s(value: str | int) -> float:
    """Compose durations: `120s`, `2m`, `1m30s`, `1h`, `500ms`."""
    if isinstance(value, (int, float)):
        return float(value)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value)
    assert parts and "".join(n + u for n, u in parts) == value, f"not a duration: {value!r}"
    return sum(float(n) * units[u] for n, u in parts)


def celery_workers(compose: dict) -> dict[str, list[str]]:
    """Service name -> the queues its `celery ... worker -Q` consumes."""
    found = {}
    for name, svc in services(compose).items():
        args = command(svc)
        if args[:1] == ["celery"] and "worker" in args:
            queues = option(args, "-Q", "--queues")
            found[name] = queues.split(",") if queues else []
    return found


def telequeue_services(compose: dict) -> dict[str, dict]:
    """Services that run the project's image and talk to Redis (all but redis and the sandbox)."""
    return {n: s for n, s in services(compose).items() if n not in ("redis", "sandbox")}


# ---- compose ----------------------------------------------------------------------------------

def test_compose_has_no_obsolete_version_key(compose):
    assert "version" not in compose


def test_redis_is_durable_and_never_evicts(compose):
    redis = services(compose)["redis"]
    assert str(redis["image"]).split(":")[0] in ("redis", "docker.io/library/redis")
    args = command(redis)
    assert option(args, "--appendonly") == "yes", args
    assert option(args, "--maxmemory-policy") == "noeviction", args
    assert "/data" in mount_targets(redis), "AOF needs a volume on /data"
    # redis-cli exits 0 on an error reply (LOADING, NOAUTH): the reply itself must be PONG
    assert "redis-cli ping | grep -qx PONG" in " ".join(redis["healthcheck"]["test"])


def test_redis_asks_every_client_for_a_password_never_in_argv(compose):
    redis = services(compose)["redis"]
    args = command(redis)
    assert not any("requirepass" in a or "REDIS_PASSWORD" in a for a in args), "a password in argv shows in `ps`"
    (conf,) = [c for c in redis["configs"] if c["target"] == args[1]]
    content = compose["configs"][conf["source"]]["content"]
    assert re.fullmatch(r"requirepass \$\{REDIS_PASSWORD:\?[^}]+\}\s*", content), content
    assert environment(redis)["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?"), "the healthcheck must authenticate"
    for name, svc in telequeue_services(compose).items():
        url = environment(svc)["TELEQUEUE_REDIS_URL"]
        assert url.startswith("redis://:${REDIS_PASSWORD:?") and url.endswith("}@redis:6379/0"), (name, url)


def test_every_image_is_pinned_by_version(compose):
    for name, svc in services(compose).items():
        image = interpolation_default(str(svc["image"]))
        assert PINNED_IMAGE.match(image), f"{name}: {image!r} is a floating tag"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert interpolation_default(services(compose)["worker-bulk"]["image"]) == f"telequeue:{version}"


def test_flower_has_auth_from_env_persistent_state_and_loopback_only(compose):
    flower = services(compose)["flower"]
    args = command(flower)
    assert args[:4] == ["celery", "-A", "workers.app", "flower"]
    assert option(args, "--basic-auth") is None, "a password in argv shows in `ps` and `docker inspect`"
    assert not any("FLOWER_BASIC_AUTH" in a for a in args)
    auth = environment(flower)["FLOWER_BASIC_AUTH"]
    assert INTERPOLATION_ONLY.match(auth) and ":?" in auth, (
        f"FLOWER_BASIC_AUTH must come from a required variable (${{FLOWER_BASIC_AUTH:?...}}), not a literal: {auth!r}")
    assert option(args, "--persistent") == "True"
    db = option(args, "--db")
    assert db and db.startswith("/data/")
    assert "/data" in mount_targets(flower), "Flower's db needs a volume on /data"
    assert int(option(args, "--max_tasks")) <= FLOWER_MAX_TASKS
    assert int(option(args, "--state_save_interval")) >= FLOWER_SAVE_INTERVAL_MS
    assert option(args, "--port") == "5555"
    assert [str(p) for p in flower.get("ports", [])] == ["127.0.0.1:5555:5555"], "Flower on the host's loopback only"
    assert not flower.get("env_file"), "Flower needs no vendor key: no secrets.env"


def test_sandbox_listens_on_all_interfaces(compose):
    args = command(services(compose)["sandbox"])
    assert args[:3] == ["python", "-m", "sandbox"]
    assert option(args, "--host") == "0.0.0.0"
    assert option(args, "--port") == "18080"


@pytest.mark.parametrize("queue", [queue_for(v) for v in VENDORS] + [BULK_QUEUE])
def test_every_vendor_queue_has_a_worker(compose, queue):
    consumers = [name for name, queues in celery_workers(compose).items() if queue in queues]
    assert consumers, f"no worker service consumes queue {queue!r}"


def test_workers_shut_down_warm(compose):
    workers = celery_workers(compose)
    assert workers
    for name in workers:
        svc = services(compose)[name]
        args = command(svc)
        assert args[:4] == ["celery", "-A", "workers.app", "worker"], name
        assert option(args, "-P", "--pool") == "threads", name
        assert int(option(args, "-c", "--concurrency") or 0) >= 1, name
        assert svc.get("stop_signal") == "SIGTERM", name
        assert duration_s(svc.get("stop_grace_period", "10s")) >= longest_chunk_after_sigterm_s(Settings()), (
            f"{name}: grace period shorter than a chunk")
        # Health from the heartbeat file: no app import, no broker round trip (a Redis outage)
        assert svc["healthcheck"]["test"][:2] == ["CMD", "heartbeat-fresh"], name
        assert environment(svc)["TELEQUEUE_HEARTBEAT_FILE"].startswith("/tmp/"), name


def test_no_healthcheck_pings_through_the_broker():
    assert "inspect ping" not in COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize("age_s, healthy", [(0, True), (25, True), (40, False), (None, False)])
def test_the_heartbeat_probe_passes_on_a_fresh_file_only(tmp_path, age_s, healthy):
    import os
    import time

    beat = tmp_path / "heartbeat"
    if age_s is not None:
        beat.touch()
        os.utime(beat, (time.time() - age_s, time.time() - age_s))
    done = subprocess.run(["sh", str(HEARTBEAT_PROBE), "30"], env={"PATH": os.environ["PATH"],
                          "TELEQUEUE_HEARTBEAT_FILE": str(beat)}, capture_output=True, text=True, timeout=10)
    assert (done.returncode == 0) is healthy, done.stdout + done.stderr


def test_app_services_share_env_and_wait_for_redis_and_only_vendor_workers_get_keys(compose):
    workers = celery_workers(compose)
    for name, svc in telequeue_services(compose).items():
        env = environment(svc)
        assert interpolation_default(env.get("TELEQUEUE_RINGOSTAT__BASE_URL") or "") == \
            "http://sandbox:18080/ringostat", f"{name}: the default base URL must point at the sandbox"
        env_files = svc.get("env_file") or []
        gets_keys = any(isinstance(f, dict) and f.get("path") == "secrets.env" and f.get("required") is False
                        for f in env_files)
        # Least privilege: Flower and the bulk worker run no vendor call
        needs_keys = name == "telequeue" or (name in workers and workers[name] != [BULK_QUEUE])
        assert gets_keys is needs_keys, f"{name}: secrets.env {'missing' if needs_keys else 'given needlessly'}"
        assert len(env_files) == gets_keys, name
        depends = svc.get("depends_on") or {}
        assert isinstance(depends, dict) and depends.get("redis", {}).get("condition") == "service_healthy", name


def test_no_inline_credentials(compose):
    offenders = []
    env_blocks = {name: environment(svc) for name, svc in services(compose).items()}
    env_blocks |= {key: environment({"environment": value}) for key, value in compose.items()
                   if key.startswith("x-") and isinstance(value, (dict, list)) and "env" in key}
    for where, env in env_blocks.items():
        for key, value in env.items():
            if SECRET_NAME.search(key) and value is not None and not INTERPOLATION_ONLY.match(value):
                offenders.append(f"{where}: {key}")
    # Also the raw text (comments aside): `..._KEY=literal` or `..._KEY: literal` anywhere.
    for lineno, line in enumerate(COMPOSE_FILE.read_text(encoding="utf-8").splitlines(), 1):
        code = re.sub(r"\$\{[^}]*\}", "${}", line.split("#", 1)[0])  # an interpolation is no literal
        for m in re.finditer(r"([A-Z0-9_]*(?:AUTH_KEY|API_KEY|_KEY|TOKEN|SECRET|PASSWORD))\s*[:=]\s*([^\s\"'$]\S*)", code):
            offenders.append(f"line {lineno}: {m.group(1)}")
    assert not offenders, f"credentials written in docker-compose.yml (put them in secrets.env): {offenders}"


def test_compose_validates_against_the_compose_spec_schema():
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (not a project dependency); "
                    "validate by hand: check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---- image ------------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in lines if line and not line.startswith("#")]


def test_dockerfile_is_multistage_non_root_with_healthcheck():
    instructions = dockerfile_instructions()
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] for op, rest in instructions if op == "ARG" and "=" in rest}
    stages = [rest.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "")) for op, rest in instructions
              if op == "FROM"]
    # The base by patch version: the one deploy/constraints.txt was generated with
    made_with = re.search(r"\(Python (3\.\d+\.\d+),", (ROOT / "deploy" / "constraints.txt").read_text()).group(1)
    assert len(stages) >= 2 and all(s.startswith(f"python:{made_with}-slim") for s in stages), stages
    assert all(PINNED_IMAGE.match(s) for s in stages), stages
    assert any(op == "COPY" and "--from=builder" in rest and "/opt/venv" in rest for op, rest in instructions)
    users = [rest for op, rest in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert any(op == "HEALTHCHECK" for op, _ in instructions)
    # No ENTRYPOINT: `docker run IMAGE celery ...` and `docker run IMAGE telequeue ...` both work.
    assert not any(op == "ENTRYPOINT" for op, _ in instructions)
    # The workers' liveness check is in the image
    assert any(op == "COPY" and "deploy/heartbeat-fresh" in rest and "/usr/local/bin/" in rest
               for op, rest in instructions)


def test_the_project_is_built_with_the_pinned_setuptools_not_an_isolated_one():
    from packaging.requirements import Requirement

    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    installs = re.findall(r"pip install [^&\n]*", text)
    project = [i for i in installs if re.search(r"\s\.(\s|$)", i)]
    assert project and all("--no-build-isolation" in i for i in project), project
    assert any("-c constraints.txt" in i and "setuptools" in i for i in installs), installs
    pins = dict(line.split("==") for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    for requirement in map(Requirement, build):
        assert requirement.name in pins, f"{requirement.name} (build-system.requires) not pinned"
        assert requirement.specifier.contains(pins[requirement.name]), (requirement, pins[requirement.name])


def test_dockerignore_keeps_secrets_and_bulk_out_of_the_build_context():
    patterns = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")}
    for needed in (".git", ".venv", "bench/out", "**/secrets.env", "**/.env"):
        assert needed in patterns, needed


def test_wheel_includes_every_package():
    """The image installs the project as a regular wheel (not editable): every package directory
    of the four top-level packages must be found by the build's package discovery."""
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(find_packages(where=str(ROOT), include=include))
    expected = {
        ".".join(directory.relative_to(ROOT).parts)
        for top in ("vendors", "sandbox", "tasks", "workers")
        for directory in [ROOT / top, *(ROOT / top).rglob("*")]
        if directory.is_dir() and directory.name != "__pycache__" and any(directory.glob("*.py"))
    }
    assert expected <= found, f"a non-editable install (the Docker image) would lack {sorted(expected - found)}"


# ---- Redis Sentinel (deploy/compose.sentinel.yml) -----------------------------------------------

SENTINEL_OVERRIDE = ROOT / "deploy" / "compose.sentinel.yml"


def test_the_sentinel_override_points_every_client_at_the_sentinels(compose):
    yaml = pytest.importorskip("yaml")
    override = yaml.safe_load(SENTINEL_OVERRIDE.read_text(encoding="utf-8"))
    conf = override["configs"]["sentinel-conf"]["content"]
    (monitored,) = re.findall(r"^sentinel monitor (\S+) redis 6379 2$", conf, re.MULTILINE)
    for name in telequeue_services(compose):
        env = environment(override["services"][name])
        assert env["TELEQUEUE_REDIS_SENTINEL_MASTER"] == monitored, name
        sentinels = env["TELEQUEUE_REDIS_URL"].split(";")
        assert [s.split("@")[1] for s in sentinels] == [f"sentinel-{i}:26379/0" for i in (1, 2, 3)], name
        assert all(s.startswith("sentinel://:${REDIS_PASSWORD") for s in sentinels), name
    # a former master must authenticate to the new one; the Sentinels to both
    assert "masterauth ${REDIS_PASSWORD" in override["configs"]["redis-node-conf"]["content"]
    assert f"sentinel auth-pass {monitored} ${{REDIS_PASSWORD" in conf
    if importlib.util.find_spec("check_jsonschema") is not None:
        result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                                 str(SENTINEL_OVERRIDE)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


def test_redis_sentinel_accepts_the_overrides_config(tmp_path):
    """The Sentinel config as Compose renders it (the host `redis` made loopback) starts a Sentinel."""
    import redis as redis_py

    from workers.dev import devstack

    yaml = pytest.importorskip("yaml")
    conf = yaml.safe_load(SENTINEL_OVERRIDE.read_text(encoding="utf-8"))["configs"]["sentinel-conf"]["content"]
    port = devstack.free_port()
    rendered = re.sub(r"\$\{REDIS_PASSWORD[^}]*\}", "pw", conf).replace(" redis 6379 ", " 127.0.0.1 6379 ")
    (tmp_path / "sentinel.conf").write_text(rendered.replace("port 26379", f"port {port}\nbind 127.0.0.1"))
    proc = devstack.run_redis_server([str(tmp_path / "sentinel.conf"), "--sentinel"], f"redis://127.0.0.1:{port}/0")
    try:
        master = re.search(r"^sentinel monitor (\S+)", conf, re.MULTILINE).group(1)
        assert redis_py.Redis(port=port, decode_responses=True).sentinel_get_master_addr_by_name(master) == ("127.0.0.1", 6379)
    finally:
        devstack.stop(proc)
