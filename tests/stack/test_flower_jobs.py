"""The Jobs tab and /api/jobs inside a real Flower, over real workers and the sandbox:
credentials on every path, CSRF, uploads (good and hostile), actions, reports, worker records."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import pytest
import requests

from tests.support.data import write_contacts
from tests.support.flowerjobs import AUTH, METRICS_TOKEN, FlowerStack
from tests.support.stack import SECRET_KEY
from workers.dev import devstack


@pytest.fixture(scope="module")
def fs(redis_url, tmp_path_factory):
    # A slow account for jobs the tests pause while they run; the default account stays fast.
    flower_stack = FlowerStack(redis_url, tmp_path_factory.mktemp("flowerjobs"), queues="ringostat,ringostat.slow,ringostat.badkey,bulk",
                               ringostat__accounts__slow__auth_key=SECRET_KEY,
                               ringostat__accounts__slow__project_id="123",
                               ringostat__accounts__slow__rate_per_s="40")
    yield flower_stack
    flower_stack.stop()


def flower_paths() -> list[str]:
    """One concrete path per route of Flower's app as telequeue installs it (the Jobs tab included)."""
    import flower.urls
    import workers.flower

    workers.flower.install()
    paths = []
    for route in flower.urls.handlers:
        pattern = route.regex.pattern if hasattr(route, "regex") else route[0]
        pattern = re.sub(r"\(([a-z-]+)\|[^)]*\)", r"\1", pattern)  # (pause|resume|...) -> pause
        pattern = re.sub(r"\([^)]*\)\??", "x", pattern).replace("/?", "").rstrip("$")
        paths.append("/no/such/page" if pattern == ".*" else pattern)
    return paths


def test_every_flower_path_but_healthcheck_answers_401_without_credentials(fs):
    paths = flower_paths()
    assert {"/metrics", "/jobs", "/api/jobs", "/api/jobs/x/report", "/static/x", "/login"} <= set(paths)
    for path in paths:
        for method in ("GET", "POST"):
            reply = requests.request(method, f"{fs.url}{path}", timeout=10)
            expected = 200 if path == "/healthcheck" and method == "GET" else 401
            if path == "/healthcheck" and method == "POST":
                expected = 405
            assert reply.status_code == expected, f"{method} {path}: {reply.status_code}"
            if expected == 401:
                assert reply.headers.get("WWW-Authenticate") == 'Basic realm="flower"', path
    # A wrong password is no better than none
    assert requests.get(f"{fs.url}/metrics", auth=(AUTH[0], "wrong"), timeout=10).status_code == 401


def test_metrics_open_to_credentials_or_the_bearer_token_only(fs):
    assert fs.get("/metrics").status_code == 200
    bearer = requests.get(f"{fs.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert bearer.status_code == 200 and "telequeue_job_rows" in bearer.text
    wrong = requests.get(f"{fs.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    # The scrape token opens /metrics and nothing else
    for path in ("/api/workers", "/jobs", "/api/jobs"):
        reply = requests.get(f"{fs.url}{path}", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
        assert reply.status_code == 401, path


def slow_job(fs, tmp_path, rows: int = 400, campaign: int = 61) -> str:
    write_contacts(tmp_path / "slow.csv", rows, offset=campaign * 10_000)
    reply = fs.upload(tmp_path / "slow.csv", kind="ringostat-campaign", campaign=str(campaign), account="slow")
    assert reply.status_code == 202, reply.text
    return reply.json()["job_id"]


def test_a_cross_site_post_is_refused(fs, tmp_path):
    job_id = slow_job(fs, tmp_path, rows=200, campaign=62)
    pause = f"{fs.url}/api/jobs/{job_id}/pause"
    # What a browser sends for another site's form or fetch(): refused, credentials or not
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"},
                    {"Sec-Fetch-Site": "same-site"}, {}):
        reply = requests.post(pause, auth=AUTH, headers=headers, timeout=10)
        assert reply.status_code == 403, (headers, reply.text)
    assert fs.get(f"/api/jobs/{job_id}").json()["job"]["state"] in ("loading", "running")
    # The page's way: the _xsrf cookie Flower sets, echoed in a header
    session = requests.Session()
    session.auth = AUTH
    assert session.get(f"{fs.url}/jobs/{job_id}", timeout=10).status_code == 200
    token = session.cookies["_xsrf"]
    reply = session.post(pause, headers={"X-XSRFToken": token, "Sec-Fetch-Site": "same-origin",
                                         "Origin": fs.url}, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "paused"
    # A script's way: X-Requested-With (curl -H ...)
    reply = fs.post(f"/api/jobs/{job_id}/cancel")
    assert reply.status_code == 200 and reply.json()["state"] == "cancelled"


def test_upload_runs_to_completion_and_the_api_reports_it_like_the_cli(fs, tmp_path):
    path = tmp_path / "small.csv"
    write_contacts(path, 60, offset=630_000, bad=1)
    with open(path, "a", encoding="utf-8") as out:
        out.write("=HYPERLINK(\"http://x\");=cmd|' /C calc'!A0\n")  # a formula in both cells: rejected, escaped
    before = fs.job_count()
    reply = fs.upload(path, kind="ringostat-campaign", campaign="63")
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["job_id"]
    devstack.wait_until(lambda: fs.get(f"/api/jobs/{job_id}").json()["job"]["finished"], 30, "the job to finish")
    job = fs.get(f"/api/jobs/{job_id}").json()["job"]
    assert (job["state"], job["delivered"], job["rejected"], job["pending"]) == ("done", 60, 2, 0)
    assert job["target"] == "campaign 63 from small.csv"
    assert fs.job_count() == before + 1
    assert len(fs.stack.rows(63)) == 60
    assert job_id in [j["id"] for j in fs.get("/api/jobs").json()["jobs"]]
    # The report: byte for byte what `telequeue job report -o FILE` writes
    report = fs.get(f"/api/jobs/{job_id}/report")
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in report.headers["Content-Disposition"]
    cli_file = tmp_path / "cli-report.csv"
    assert fs.stack.cli("job", "report", job_id, "-o", str(cli_file)).returncode == 0
    assert report.content == cli_file.read_bytes()
    assert "'=HYPERLINK" in report.content.decode("utf-8-sig")
    # A finished job cannot be paused: a one-line reason, in JSON
    refused = fs.post(f"/api/jobs/{job_id}/pause")
    assert refused.status_code == 409 and "done" in refused.json()["error"]
    assert fs.get("/api/jobs/no-such-job").status_code == 404


def test_pause_and_resume_over_the_api(fs, tmp_path):
    job_id = slow_job(fs, tmp_path, rows=300, campaign=64)
    devstack.wait_until(lambda: fs.get(f"/api/jobs/{job_id}").json()["job"]["delivered"] > 0, 20, "first rows")
    assert fs.post(f"/api/jobs/{job_id}/pause").json()["state"] == "paused"
    time.sleep(1.5)  # rows already claimed finish; then nothing moves
    held = fs.get(f"/api/jobs/{job_id}").json()["job"]["delivered"]
    time.sleep(1.5)
    assert fs.get(f"/api/jobs/{job_id}").json()["job"]["delivered"] == held < 300
    resumed = fs.post(f"/api/jobs/{job_id}/resume").json()
    assert resumed["state"] in ("running", "loading")
    devstack.wait_until(lambda: fs.get(f"/api/jobs/{job_id}").json()["job"]["finished"], 30, "the job to finish")
    detail = fs.get(f"/api/jobs/{job_id}").json()
    assert detail["job"]["delivered"] == 300 and len(fs.stack.rows(64)) == 300
    assert detail["limiter"]["account"] == "slow" and detail["limiter"]["rate_per_s"] == 40
    assert detail["limiter"]["granted"] >= 300
    assert len(detail["history"]) >= 2  # counters over time, sampled as the test read them


def test_failures_with_reasons_and_retry_failed_over_the_api(fs, tmp_path):
    # Given a campaign the vendor refuses row by row (a refused key would pause the job instead)
    fs.stack.sandbox.control.configure(closed_campaigns=[70])
    write_contacts(tmp_path / "refused.csv", 12, offset=700_000)
    reply = fs.upload(tmp_path / "refused.csv", kind="ringostat-campaign", campaign="70")
    job_id = reply.json()["job_id"]
    devstack.wait_until(lambda: fs.get(f"/api/jobs/{job_id}").json()["job"]["finished"], 30, "the job to finish")
    detail = fs.get(f"/api/jobs/{job_id}").json()
    assert detail["job"]["failed"] == 12
    failures = detail["failures"]
    assert [f["line"] for f in failures] == list(range(13, 1, -1))  # the latest lines first
    assert all(f["status"] == "failed" and f["reason"] and f["phone"] for f in failures)
    assert "wire" not in failures[0]
    retried = fs.post(f"/api/jobs/{job_id}/retry-failed").json()
    assert (retried["count"], retried["state"]) == (12, "running")
    devstack.wait_until(lambda: fs.get(f"/api/jobs/{job_id}").json()["job"]["finished"], 30, "the retry to finish")
    assert fs.get(f"/api/jobs/{job_id}").json()["job"]["failed"] == 12  # the campaign still refuses them


def test_hostile_uploads_get_one_line_and_create_no_job(fs, tmp_path):
    cases = {
        "not-utf8.csv": "телефон;имя\n0931234567;Іван\n".encode("cp1251"),
        "no-phone.csv": b"name;email\nIvan;ivan@example.com\n",
        "binary.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40,
    }
    before = fs.job_count()
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        reply = fs.upload(tmp_path / name, kind="ringostat-campaign", campaign="65")
        assert reply.status_code == 400, (name, reply.text)
        error = reply.json()["error"]
        assert "\n" not in error and error.startswith(name), (name, error)
        assert str(tmp_path) not in error and "telequeue-upload" not in error
    # Form mistakes are refused before the file is read
    (tmp_path / "ok.csv").write_text("phone\n0931234567\n", encoding="utf-8")
    for fields, words in (({"kind": "nope"}, "kind must be one of"),
                          ({"kind": "ringostat-campaign"}, "campaign"),
                          ({"kind": "ringostat-campaign", "campaign": "x1"}, "campaign"),
                          ({"kind": "ringostat-campaign", "campaign": "1", "acount": "x"}, "acount"),
                          ({"kind": "ringostat-campaign", "campaign": "1", "account": "ghost"}, "ghost")):
        reply = fs.upload(tmp_path / "ok.csv", **fields)
        assert reply.status_code == 400 and words in reply.json()["error"], (fields, reply.text)
    no_file = fs.post("/api/jobs", files={"kind": (None, "ringostat-campaign"), "campaign": (None, "1")})
    assert no_file.status_code == 400 and "no file" in no_file.json()["error"]
    not_multipart = fs.post("/api/jobs", data={"kind": "ringostat-campaign", "campaign": "1"})
    assert not_multipart.status_code == 400 and "multipart/form-data" in not_multipart.json()["error"]
    assert fs.job_count() == before


def one_line_body(boundary: str, size: int):
    """A multipart upload whose file is `size` bytes of one line, made as it is sent."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nringostat-campaign\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"campaign\"\r\n\r\n66\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.csv\"\r\n"
           f"Content-Type: text/csv\r\n\r\nphone,").encode()
    block = b"9" * (1 << 20)
    for _ in range(size // len(block)):
        yield block
    yield f"\r\n--{boundary}--\r\n".encode()


def test_200_mb_of_one_line_is_streamed_refused_in_one_line_and_creates_no_job(fs):
    """Tornado would refuse a body over 100 MB, or hold it whole; this one is streamed to disk:
    Flower's memory stays flat while it arrives, and the header check refuses it."""
    before_jobs, rss_before = fs.job_count(), fs.rss_bytes()
    peak, done = [rss_before], threading.Event()

    def sample():
        while not done.is_set():
            peak.append(fs.rss_bytes())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    boundary = uuid.uuid4().hex
    try:
        reply = requests.post(f"{fs.url}/api/jobs", auth=AUTH, data=one_line_body(boundary, 200 << 20), timeout=120,
                              headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                       "X-Requested-With": "tests"})
    finally:
        done.set()
        sampler.join()
    assert reply.status_code == 400, reply.text[:300]
    error = reply.json()["error"]
    assert "\n" not in error and error.startswith("huge.csv") and len(error) < 300, error
    assert fs.job_count() == before_jobs
    growth_mb = (max(peak) - rss_before) / 2**20
    print(f"Flower RSS {rss_before / 2**20:.0f} MB before, peak +{growth_mb:.1f} MB during a 200 MB upload")
    assert growth_mb < 25, growth_mb  # measured: +3 MB; the body held whole would be 200 MB+


def test_job_page_lists_chunks_in_flight_from_worker_records(fs, tmp_path):
    job_id = slow_job(fs, tmp_path, rows=100, campaign=67)
    keys_prefix = fs.stack.prefix
    redis = fs.stack.redis
    record = {"id": "hostA:4242", "host": "hostA", "pid": 4242, "queues": ["ringostat"], "started_at": 1.0,
              "seen_at": time.time(), "future_field": {"ignored": True},
              "held": [{"task_id": "t-1", "task": "ringostat.campaign_rows.add_chunk", "queue": "ringostat",
                        "job_id": job_id, "rows": 100, "started_at": time.time(), "extra": 1},
                       {"task_id": "t-2", "task": "pozvonim.calls.now", "queue": "pozvonim", "job_id": None,
                        "rows": None, "started_at": time.time()}]}
    redis.zadd(f"{keys_prefix}workers", {"hostA:4242": time.time(), "gone:1": time.time() - 100})
    redis.set(f"{keys_prefix}worker:hostA:4242", json.dumps(record), ex=30)
    redis.set(f"{keys_prefix}worker:broken:1", b"{not json", ex=30)
    redis.zadd(f"{keys_prefix}workers", {"broken:1": time.time()})
    in_flight = fs.get(f"/api/jobs/{job_id}").json()["in_flight"]
    assert [(c["worker"], c["task_id"], c["rows"]) for c in in_flight if c["worker"] == "hostA:4242"] == [
        ("hostA:4242", "t-1", 100)]
    assert all(c["worker"] not in ("gone:1", "broken:1") for c in in_flight)
    fs.post(f"/api/jobs/{job_id}/cancel")


def test_pages_and_api_show_no_secret(fs, tmp_path):
    job_id = slow_job(fs, tmp_path, rows=20, campaign=68)
    shown = "".join(fs.get(path).text for path in ("/jobs", f"/jobs/{job_id}", "/api/jobs", f"/api/jobs/{job_id}",
                                                    f"/api/jobs/{job_id}/report", "/workers"))
    assert f"/jobs/{job_id}" in shown and 'id="nav-jobs"' in shown  # the tab is in Flower's own navbar too
    for secret in (SECRET_KEY, AUTH[1], METRICS_TOKEN, fs.stack.env["TELEQUEUE_REDIS_URL"]):
        assert secret not in shown


def test_flower_stopped_mid_load_finishes_enqueueing_first(redis_url, tmp_path):
    """SIGTERM right after the 202: the load's thread is not a daemon, so Flower exits only once
    every row is counted and enqueued, and the job can end (no half-loaded job left behind)."""
    rows = 20_000
    write_contacts(tmp_path / "big.csv", rows, offset=2_000_000, bad=5)
    stopping = FlowerStack(redis_url, tmp_path, queues="bulk")  # no worker sends: the count stays put
    try:
        reply = stopping.upload(tmp_path / "big.csv", kind="ringostat-campaign", campaign="69")
        assert reply.status_code == 202, reply.text
        job_key = f"{stopping.stack.prefix}job:{reply.json()['job_id']}"
        assert stopping.stack.redis.hget(job_key, "produced") == b"0"  # still enqueueing when stopped
        devstack.stop(stopping.proc, timeout_s=60)
        job = {k.decode(): v.decode() for k, v in stopping.stack.redis.hgetall(job_key).items()}
        assert (job["produced"], job["state"], job["total"], job["valid"]) == ("1", "running", str(rows + 5), str(rows))
    finally:
        stopping.stop()
