"""telequeue workers: the Celery app, settings, limiter, jobs, CLI."""
