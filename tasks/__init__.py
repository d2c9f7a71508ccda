"""telequeue tasks: one Celery task per vendor operation, plus bulk chunk tasks."""
