"""Every load kind goes on with `--resume` after a failed publish: each row counted and
published once in all, the chunk that failed included. Real Redis; the broker is a recorder."""

from __future__ import annotations

import os
import subprocess
import sys

import kombu.exceptions
import pytest

from workers.jobs import producer
from workers.jobs.store import JobStore
from workers.redis.keys import Keys

ROWS = 250


def campaign_file(path):
    path.write_text("phone;fio\n" + "".join(f"+38093{i:07d};К {i}\n" for i in range(ROWS)), encoding="utf-8")


def contacts_file(path):
    rows = "".join(f"Контакт {i};CsvCrm;;L{i};m1;+38093{i:07d};c{i}@example.com\n" for i in range(ROWS))
    path.write_text("full_name;origin;external_id;lead_id;responsible;phone;email\n" + rows, encoding="utf-8")


def upserts_file(path):
    rows = "".join(f"code{i};+38093{i:07d};Контакт {i}\n" for i in range(ROWS))
    path.write_text("external_code;phone;name\n" + rows, encoding="utf-8")


def app_publish(task, kwargs, **options):
    """workers.app.publish as the test patches it: what the CLI passes to a load."""
    import workers.app

    workers.app.publish(task, kwargs, **options)


def load_campaign(path, **kw):
    from workers.jobs.kinds.ringostat_campaign import load_campaign_csv

    return load_campaign_csv(path, campaign_id=9, publish=app_publish, **kw)


def load_contacts(path, **kw):
    from workers.jobs.kinds.ringostat_contacts import load_contacts_file

    return load_contacts_file(path, batch_size=100, publish=app_publish, **kw)


def load_upserts(path, **kw):
    from workers.jobs.kinds.obzvonilka_contacts import load_contacts_csv

    return load_contacts_csv(path, base_id=3, publish=app_publish, **kw)


KINDS = {
    "ringostat-campaign": (campaign_file, load_campaign, ["--campaign", "9"]),
    "ringostat-contacts": (contacts_file, load_contacts, ["--batch-size", "100"]),
    "obzvonilka-contacts": (upserts_file, load_upserts, ["--base", "3"]),
}


@pytest.mark.parametrize("kind", KINDS)
def test_resume_goes_on_after_a_failed_publish_and_sends_each_row_once(r, key_prefix, monkeypatch, tmp_path, kind):
    import workers.app

    write, load, cli_args = KINDS[kind]
    monkeypatch.setattr(producer, "get_redis", lambda: r)
    monkeypatch.setattr(producer, "get_keys", lambda: Keys(key_prefix))
    write(tmp_path / "rows.csv")
    published: list[int] = []
    created: list[str] = []

    def broker_gone_at_the_second_chunk(task, kwargs, **options):
        if len(published) == 100:
            raise kombu.exceptions.OperationalError("broker gone")
        published.extend(row[0] for row in kwargs["rows"])

    monkeypatch.setattr(workers.app, "publish", broker_gone_at_the_second_chunk)
    with pytest.raises(kombu.exceptions.OperationalError):
        load(tmp_path / "rows.csv", on_created=created.append)
    store = JobStore(r, Keys(key_prefix))
    status = store.status(created[0])
    assert (status.state, status.valid, status.last_line) == ("aborted", 200, 201)

    # The CLI's --resume refuses another file, for every kind
    # (the campaign's whole CLI resume: tests/stack/test_load_resume.py)
    (tmp_path / "other.csv").write_bytes((tmp_path / "rows.csv").read_bytes())
    env = {**os.environ, "TELEQUEUE_REDIS_URL": os.environ["TELEQUEUE_REDIS_URL"],
           "TELEQUEUE_KEY_PREFIX": key_prefix}
    refused = subprocess.run([sys.executable, "-m", "workers", "load", kind, *cli_args, "--resume", created[0],
                              str(tmp_path / "other.csv")], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "was loaded from 'rows.csv', not 'other.csv'" in refused.stderr, refused.stderr

    monkeypatch.setattr(workers.app, "publish", lambda task, kwargs, **o: published.extend(r[0] for r in kwargs["rows"]))
    assert load(tmp_path / "rows.csv", resume=created[0]) == created[0]
    assert sorted(published) == list(range(2, ROWS + 2))
    status = store.status(created[0])
    assert (status.state, status.produced, status.valid, status.total, status.aborted) == ("running", True, ROWS, ROWS,
                                                                                          False)
