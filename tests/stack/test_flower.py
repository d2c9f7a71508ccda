"""Flower as the HTTP door for non-Python apps and the monitor: auth, enqueue, history, no secrets."""

from __future__ import annotations

import requests
import pytest

from tests.support.data import write_contacts
from tests.support.flowerjobs import flower_answers, task_state
from tests.support.stack import SECRET_KEY, Stack
from workers.dev import devstack

AUTH = ("ops", "flower-test-pass")


@pytest.fixture(scope="module")
def flower(redis_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flower")
    stack = Stack(redis_url, tmp)
    stack.start_worker(queues="ringostat,ringostat.badkey,bulk")
    port = devstack.free_port()
    url = f"http://127.0.0.1:{port}"

    def start():
        proc = devstack.start_flower(stack.env, port=port, basic_auth=":".join(AUTH), logfile=str(tmp / "flower.log"),
                                     db_path=str(tmp / "flower.db"))
        devstack.wait_until(lambda: flower_answers(url), 30, "flower to answer")
        return proc

    holder = {"proc": start(), "start": start}
    yield stack, url, holder
    devstack.stop(holder["proc"])
    stack.stop()


def test_without_credentials_everything_is_401(flower):
    _, url, _ = flower
    for path in ("/", "/api/workers", "/api/task/async-apply/ringostat.campaign_rows.add"):
        method = requests.post if "apply" in path else requests.get
        assert method(f"{url}{path}", timeout=5).status_code == 401, path


def test_enqueue_over_http_and_read_the_result(flower):
    stack, url, _ = flower
    # The README's curl example, as requests
    reply = requests.post(f"{url}/api/task/async-apply/ringostat.campaign_rows.add", auth=AUTH, timeout=10,
                          json={"kwargs": {"campaign_id": 31, "phone_number": "380932220001", "fio": "Curl"}})
    assert reply.status_code == 200, reply.text
    task_id = reply.json()["task-id"]
    devstack.wait_until(lambda: task_state(url, task_id, AUTH) == "SUCCESS", 30, "the task to succeed")
    assert requests.get(f"{url}/api/task/result/{task_id}", auth=AUTH, timeout=5).json()["result"] == {"result": True}
    assert [r["phone_number"] for r in stack.rows(31)] == ["380932220001"]


def test_views_show_names_queues_and_job_ids_but_no_secret(flower, tmp_path):
    stack, url, _ = flower
    write_contacts(tmp_path / "c.csv", 30, offset=700_000)
    load = stack.cli("load", "ringostat-campaign", "--campaign", "32", "--account", "badkey", "--detach",
                     str(tmp_path / "c.csv"))
    job_id = load.stdout.strip()
    assert stack.cli("job", "follow", job_id, "--timeout", "30").returncode == 1  # paused at the refused key
    devstack.wait_until(lambda: job_id in requests.get(f"{url}/api/tasks", auth=AUTH, timeout=5).text, 20,
                        "flower to see the job's chunk")
    tasks = requests.get(f"{url}/api/tasks", auth=AUTH, timeout=5).json()
    chunk = next(t for t in tasks.values() if job_id in (t.get("kwargs") or ""))
    assert chunk["name"] == "ringostat.campaign_rows.add_chunk"
    dump = requests.get(f"{url}/api/tasks", auth=AUTH, timeout=5).text
    assert SECRET_KEY not in dump



def test_metrics_include_limiter_and_job_counters(flower):
    _, url, _ = flower
    metrics = requests.get(f"{url}/metrics", auth=AUTH, timeout=10)
    assert metrics.status_code == 200
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in metrics.text.splitlines() if line and not line.startswith("#")}
    assert any(name.startswith("flower_events_total") for name in samples)  # Flower's own
    # The refused account's job took one limiter slot, met a 401 and paused with its 30 rows pending
    assert samples['telequeue_limiter_granted_total{account="badkey",vendor="ringostat"}'] == 1
    assert samples['telequeue_vendor_throttled_total{account="badkey",vendor="ringostat"}'] == 0
    assert samples['telequeue_limiter_missed_total{account="badkey",vendor="ringostat"}'] == 0
    pending = [v for k, v in samples.items()
               if k.startswith("telequeue_job_rows{") and 'state="paused"' in k and 'outcome="pending"' in k]
    assert 30.0 in pending


def test_history_survives_a_restart(flower):
    stack, url, holder = flower
    before = set(requests.get(f"{url}/api/tasks", auth=AUTH, timeout=5).json())
    assert before
    devstack.stop(holder["proc"])  # SIGTERM: Flower saves its state to --db
    holder["proc"] = holder["start"]()
    after = set(requests.get(f"{url}/api/tasks", auth=AUTH, timeout=5).json())
    assert before <= after
