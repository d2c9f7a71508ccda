"""The Jobs tab's rate, ETA and history, from samples: no process needed."""

from __future__ import annotations

from workers.flower.rates import KEEP, RateTracker
from workers.jobs.store import JobStatus


def status(delivered: int, *, state: str = "running", valid: int = 1000, job_id: str = "j1") -> JobStatus:
    return JobStatus(id=job_id, kind="ringostat-campaign", vendor="ringostat", account="default", target="t",
                     state=state, created_at=0.0, finished_at=None, produced=True, total=valid, valid=valid,
                     delivered=delivered)


def test_rate_and_eta_come_from_recent_samples():
    rates = RateTracker()
    rates.observe(status(100), now=1000.0)
    assert rates.rate_per_s(status(100)) is None  # one sample: no rate yet, and no made-up one
    rates.observe(status(120), now=1002.0)
    rates.observe(status(140), now=1004.0)
    assert rates.rate_per_s(status(140)) == 10.0
    assert rates.eta_s(status(140)) == 86.0  # 860 pending at 10/s
    # Only the last 10 s count: a pause shows as a falling rate, and no ETA while paused
    rates.observe(status(140, state="paused"), now=1014.0)
    assert rates.rate_per_s(status(140, state="paused")) == 0.0
    assert rates.eta_s(status(140, state="paused")) is None


def test_samples_are_bounded_and_at_most_one_a_second():
    rates = RateTracker()
    for i in range(KEEP + 50):
        rates.observe(status(i), now=float(i))
        rates.observe(status(i), now=i + 0.5)  # a second reader in the same second adds nothing
    history = rates.history("j1")
    assert len(history) == KEEP and history[-1]["delivered"] == KEEP + 49


def test_a_finished_job_has_rate_and_eta_zero():
    done = status(1000, state="done")
    assert RateTracker().rate_per_s(done) == 0.0 and RateTracker().eta_s(done) == 0.0
