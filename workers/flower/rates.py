"""Counters over time, current rate and ETA of jobs, from samples taken as Flower reads them.

Redis keeps a job's counters, not their history: this Flower process samples a job each
time a page or the API reads it (at most once a second; the pages poll every 2 s), and
keeps the last `KEEP` samples of the `JOBS` jobs read most recently. The history of a
job therefore starts when someone first looked at it since Flower started.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import NamedTuple

from workers.jobs.store import JobStatus

#: samples kept per job: 20 minutes at one per 2 s
KEEP = 600
#: jobs whose samples are kept
JOBS = 200
#: the current rate is measured over this much recent history
WINDOW_S = 10.0
MIN_SPAN_S = 1.5
MIN_INTERVAL_S = 1.0


class Sample(NamedTuple):
    t: float
    delivered: int
    failed: int
    cancelled: int
    pending: int

    @property
    def done(self) -> int:
        return self.delivered + self.failed + self.cancelled


class RateTracker:
    def __init__(self) -> None:
        self._samples: OrderedDict[str, deque[Sample]] = OrderedDict()
        self._lock = threading.Lock()  # handlers read off the event loop, in Flower's thread pool

    def observe(self, status: JobStatus, now: float | None = None) -> None:
        now = time.time() if now is None else now
        sample = Sample(now, status.delivered, status.failed, status.cancelled, status.pending)
        with self._lock:
            samples = self._samples.setdefault(status.id, deque(maxlen=KEEP))
            self._samples.move_to_end(status.id)
            if not samples or now - samples[-1].t >= MIN_INTERVAL_S:
                samples.append(sample)
            while len(self._samples) > JOBS:
                self._samples.popitem(last=False)

    def rate_per_s(self, status: JobStatus) -> float | None:
        """Rows finished per second lately; None until two samples span MIN_SPAN_S."""
        if status.finished:
            return 0.0
        with self._lock:
            samples = list(self._samples.get(status.id, ()))
        recent = [s for s in samples if samples and s.t >= samples[-1].t - WINDOW_S]
        if len(recent) < 2 or recent[-1].t - recent[0].t < MIN_SPAN_S:
            return None
        return max(0, recent[-1].done - recent[0].done) / (recent[-1].t - recent[0].t)

    def eta_s(self, status: JobStatus) -> float | None:
        rate = self.rate_per_s(status)
        if status.finished:
            return 0.0
        if not rate or status.state != "running":
            return None
        return status.pending / rate

    def history(self, job_id: str) -> list[dict]:
        with self._lock:
            return [s._asdict() for s in self._samples.get(job_id, ())]
