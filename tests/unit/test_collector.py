"""A worker sets its garbage collector so that full collections, which stall every sender, come seldom."""

from __future__ import annotations

import gc

from workers.runtime import collector


def test_the_worker_start_sets_the_collectors_thresholds():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        collector.tune()
        assert gc.get_threshold() == collector.THRESHOLDS
        assert collector.THRESHOLDS[0] > 700 and collector.THRESHOLDS[2] > 10
    finally:
        gc.set_threshold(*before)


def test_the_worker_app_tunes_the_collector_when_a_worker_starts():
    from celery import signals

    import workers.app  # noqa: F401 - connects the app's signal handlers

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        signals.worker_init.send(sender=None)  # what `celery worker` sends before its pool starts
        assert gc.get_threshold() == collector.THRESHOLDS
    finally:
        gc.set_threshold(*before)
