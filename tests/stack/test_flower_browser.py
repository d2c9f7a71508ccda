"""The Jobs tab in a real browser: headless Chromium, a real Flower, workers and the sandbox."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.browser import ARTIFACTS, launch
from tests.support.data import write_contacts
from tests.support.flowerjobs import AUTH, FlowerStack
from tests.support.stack import SECRET_KEY

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) is not installed")

ROWS = 600
RATE_PER_S = "40"  # ~15 s of sending: time to watch, pause and resume it


@pytest.fixture
def fs(redis_url, tmp_path):
    flower_stack = FlowerStack(redis_url, tmp_path, queues="ringostat,ringostat.slow,bulk",
                               ringostat__accounts__slow__auth_key=SECRET_KEY,
                               ringostat__accounts__slow__project_id="123",
                               ringostat__accounts__slow__rate_per_s=RATE_PER_S)
    yield flower_stack
    flower_stack.stop()


def state_is(state: str) -> str:
    return f"document.querySelector('#job-state')?.textContent === '{state}'"


def test_jobs_tab_shows_progress_pauses_resumes_and_downloads_the_report(fs, tmp_path):
    shots = ARTIFACTS / "flower-jobs"
    shots.mkdir(parents=True, exist_ok=True)
    write_contacts(tmp_path / "contacts.csv", ROWS, offset=810_000, bad=3)

    with sync_api.sync_playwright() as playwright:
        context = launch(playwright, http_credentials={"username": AUTH[0], "password": AUTH[1]})
        try:
            page = context.new_page()
            page.on("dialog", lambda dialog: dialog.accept())  # the confirmation of each action
            page.goto(f"{fs.url}/workers")
            # The browser is up (it can take seconds on a busy machine): now start the job.
            reply = fs.upload(tmp_path / "contacts.csv", kind="ringostat-campaign", campaign="81", account="slow")
            assert reply.status_code == 202, reply.text
            job_id = reply.json()["job_id"]
            page.click("#nav-jobs")  # the tab sits in Flower's own navbar
            page.wait_for_selector(f"tr[data-job='{job_id}']")
            page.screenshot(path=str(shots / "1-jobs-list.png"), full_page=True)
            page.click(f"a[href$='/jobs/{job_id}']")
            page.wait_for_url(f"**/jobs/{job_id}")

            def progress() -> int:
                page.wait_for_selector("#job-progress .progress")
                return int(page.get_attribute("#job-progress .progress", "aria-valuenow"))

            def delivered() -> int:
                return int(page.inner_text("#c-delivered").replace(",", "") or 0)

            page.wait_for_function(state_is("running"))
            first = progress()
            page.wait_for_function(f"+document.querySelector('#job-progress .progress')?.getAttribute('aria-valuenow')"
                                   f" > {first}", timeout=15_000)
            assert progress() > first  # it moves without a reload
            page.screenshot(path=str(shots / "2-job-running.png"), full_page=True)

            page.click("#action-pause")
            page.wait_for_function(state_is("paused"))
            page.wait_for_timeout(2500)  # rows claimed before the pause finish, then nothing moves
            held = delivered()
            page.wait_for_timeout(2500)
            assert delivered() == held < ROWS
            page.screenshot(path=str(shots / "3-job-paused.png"), full_page=True)

            page.click("#action-resume")
            page.wait_for_function(state_is("done"), timeout=60_000)
            assert delivered() == ROWS
            page.screenshot(path=str(shots / "4-job-done.png"), full_page=True)

            with page.expect_download() as download:
                page.click("#report-link")
            report = download.value.path().read_bytes().decode("utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(report)))
            assert [r["status"] for r in rows] == ["rejected"] * 3
            assert [int(r["line"]) for r in rows] == [ROWS + 2, ROWS + 3, ROWS + 4]
        finally:
            context.close()
    assert len(fs.stack.rows(81)) == ROWS
