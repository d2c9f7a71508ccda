"""Turn a stream of validated rows into counted chunks on the broker, never holding it whole.

A load holds a lease on its job while it produces (renewed by a small thread and by every
batch it counts). Each batch is counted and its chunk put in the job's outbox in one Redis
step, then published and taken out of the outbox: every counted row is on the broker or in
the outbox. When the producer fails, the job ends as `aborted`; when it vanishes (kill -9,
host lost) its lease lapses and whoever reads the job, or a worker's reaper, ends it so. In
both cases a worker publishes what the outbox still holds, so every counted row goes out,
and `telequeue load ... --resume JOB FILE` goes on after the last counted line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from workers.jobs.intake import RejectedRow
from workers.jobs.kind import JobKind, Publish
from workers.jobs.store import JobNotFound, JobStore
from workers.limits.deferred import encode_entry
from workers.redis.connection import get_keys, get_redis
from workers.settings import get_settings

log = logging.getLogger(__name__)

#: the file's first bytes, hashed: enough to tell another file from the one a job was loaded from
SOURCE_HEAD_BYTES = 64 * 1024


class LoadStopped(RuntimeError):
    """This process no longer owns the load: it was ended as aborted while we could not renew
    our lease (Redis unreachable for longer than the lease). Nothing counted is lost."""


class RedisLostWrites(LoadStopped):
    """Redis came back from a restart without the batches this load counted last."""


class ResumeRefused(ValueError):
    """`--resume` of a job that cannot be resumed, or with another file or other options."""


def file_source(path: str | Path, *, file_name: str | None = None, **options) -> dict:
    """What identifies a load's input for `--resume`: its name (`file_name`, else the path's),
    a hash of its first 64 KiB, and the options that change how its rows are read."""
    with open(path, "rb") as handle:
        head = hashlib.sha256(handle.read(SOURCE_HEAD_BYTES)).hexdigest()
    return {"file": file_name or Path(path).name, "head_sha256": head, "options": options}


def start_job(
    kind: JobKind,
    rows: Iterable,
    *,
    account: str,
    target: str,
    params: dict,
    publish: Publish,
    on_created: Callable[[str], None] = lambda job_id: None,
    on_progress: Callable[[int], None] = lambda n: None,
    chunk_size: int | None = None,
    source: dict | None = None,
    resume: str | None = None,
) -> str:
    """Create a job of this kind and enqueue all its rows; returns the job id.

    `params` travel in every chunk (via kind.build_chunk) and are kept with the job, so
    retry-failed can rebuild chunks; they must hold no secret. `publish(task_name, kwargs,
    **options)` sends a chunk: workers.app.publish (the CLI), Flower's app or a client's; the
    caller passes it, as the job engine never imports the Celery app. `resume`: the id of a
    job whose load ended early, to go on with it after its last counted line; `source` (see
    file_source) must then match its own.
    """
    params = {**params, "account": account}
    store = JobStore(get_redis(), get_keys())
    producer = secrets.token_hex(8)
    if resume:
        job_id, skip_through, batch = _take_over(store, resume, producer, kind, params, source)
    else:
        job_id = store.create(kind=kind.name, vendor=kind.vendor, account=account, target=target, params=params,
                              producer=producer, source=source)
        skip_through = batch = 0
    on_created(job_id)
    with LeaseKeeper(store, job_id, producer):
        try:
            if resume:
                send_outbox(store, job_id, publish)  # chunks the vanished producer counted but may not have sent
            produce(job_id, rows, store=store, producer=producer, chunk_size=chunk_size or get_settings().chunk_size,
                    # Chunk results are never read (the ledger is the record): no result subscription per message.
                    build=lambda chunk: (kind.task_name, kind.build_chunk(job_id, params, chunk), {"ignore_result": True}),
                    publish=publish, on_progress=on_progress, to_wire=kind.to_wire,
                    skip_through=skip_through, first_batch=batch + 1)
        except LoadStopped as exc:
            if isinstance(exc, RedisLostWrites):
                store.abort(job_id, reason=str(exc)[:500], producer=producer)
            raise
        except BaseException as exc:
            # The rows counted so far are still sent; the job must be able to end, as `aborted`.
            store.abort(job_id, reason=f"loading stopped: {type(exc).__name__}: {exc}"[:500], producer=producer)
            raise
    return job_id


def _take_over(store: JobStore, job_id: str, producer: str, kind: JobKind, params: dict,
               source: dict | None) -> tuple[str, int, int]:
    try:
        status = store.status(job_id)
    except JobNotFound:
        raise ResumeRefused(f"no job {job_id!r} to resume") from None
    if status.kind != kind.name:
        raise ResumeRefused(f"job {job_id} is a {status.kind} load, not {kind.name}")
    if store.params(job_id) != params:
        raise ResumeRefused(f"job {job_id} was loaded with {_shown(store.params(job_id))}, not {_shown(params)}")
    _check_source(job_id, store.source(job_id), source)
    answer = store.resume_load(job_id, producer)
    if answer != "resumed":
        why = {"gone": "its keys expired", "loading": "it is still being loaded (its producer's lease is live)",
               "complete": "its whole file was loaded", "cancelled": "it was cancelled"}[answer]
        raise ResumeRefused(f"job {job_id} cannot be resumed: {why}")
    status = store.status(job_id)
    log.info("job %s: resuming the load after line %d", job_id, status.last_line)
    return job_id, status.last_line, status.batches


def _check_source(job_id: str, stored: dict, given: dict | None) -> None:
    if not stored or given is None:
        raise ResumeRefused(f"job {job_id} was not loaded from a file: only a file load can be resumed")
    if stored["file"] != given["file"]:
        raise ResumeRefused(f"job {job_id} was loaded from {stored['file']!r}, not {given['file']!r}")
    if stored["head_sha256"] != given["head_sha256"]:
        raise ResumeRefused(f"{given['file']!r} is not the file job {job_id} was loaded from: its first "
                            f"{SOURCE_HEAD_BYTES // 1024} KiB differ")
    if stored.get("options", {}) != given.get("options", {}):
        raise ResumeRefused(f"job {job_id} was read with {_shown(stored.get('options', {}))}, "
                            f"not {_shown(given.get('options', {}))}")


def _shown(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "no options"


#: rejects are written to Redis in batches of this size, whatever the chunk size
REJECT_BATCH = 1000


def produce(
    job_id: str,
    rows: Iterable,
    *,
    store: JobStore,
    producer: str,
    chunk_size: int,
    build: Callable[[list[list]], tuple[str, dict, dict]],
    publish: Publish,
    to_wire: Callable[[Any], list],
    on_progress: Callable[[int], None] = lambda n: None,
    skip_through: int = 0,
    first_batch: int = 1,
) -> None:
    """Count, record and enqueue every row (RejectedRow or a valid row that `to_wire` turns
    into its chunk form, line first); the job can finish only after this returns. Rows up to
    line `skip_through` were counted by an earlier producer: read (duplicates are still found
    against them) but not counted again."""
    batch = Batch(job_id, store, producer, build, publish, on_progress, number=first_batch)
    for row in rows:
        if row.line <= skip_through:
            continue
        if isinstance(row, RejectedRow):
            batch.rejects.append(row.as_record())
        else:
            batch.chunk.append(to_wire(row))
        batch.last_line = max(batch.last_line, row.line)  # rows from code may come in any order
        # Rejects flush with the chunk read so far: every flush covers every row read, so
        # `last_line` is where a resumed load goes on.
        if len(batch.chunk) >= chunk_size or len(batch.rejects) >= REJECT_BATCH:
            batch.flush()
    batch.flush()
    if not store.mark_produced(job_id, producer):
        raise LoadStopped(_lost(job_id, store))


class Batch:
    """The rows read since the last flush; flush() counts them and sends their chunk."""

    def __init__(self, job_id, store, producer, build, publish, on_progress, *, number: int) -> None:
        self.job_id, self.store, self.producer = job_id, store, producer
        self.build, self.publish, self.on_progress = build, publish, on_progress
        self.number = number
        self.chunk: list[list] = []
        self.rejects: list[dict] = []
        self.last_line = 0

    def flush(self) -> None:
        if not self.chunk and not self.rejects:
            return
        entry = encode_entry(*self.build(self.chunk)) if self.chunk else ""
        # Counted before it is published, so `pending` never goes negative while workers race ahead;
        # the outbox keeps the chunk until the broker has it.
        answer = self.store.count_rows(self.job_id, self.producer, batch=self.number, last_line=self.last_line,
                                       valid=len(self.chunk), rejects=self.rejects, entry=entry)
        if answer == "lost":
            raise LoadStopped(_lost(self.job_id, self.store))
        if answer == "gap":
            # Redis came back without its last writes: counting on would skip the batch it forgot.
            raise RedisLostWrites(f"job {self.job_id}: Redis lost its last writes (restarted without them); "
                                  f"the load stops here: go on with --resume {self.job_id}")
        if entry:
            send_entry(self.store, self.job_id, entry, self.publish)
        self.on_progress(len(self.chunk) + len(self.rejects))
        self.number += 1
        self.chunk, self.rejects = [], []


def send_entry(store: JobStore, job_id: str, entry: str, publish: Publish) -> None:
    data = json.loads(entry)
    publish(data["task"], data["kwargs"], **data.get("options", {}))
    store.sent(job_id, entry)


def send_outbox(store: JobStore, job_id: str, publish: Publish) -> int:
    """Publish the chunks a load counted but did not see reach the broker. One may have reached
    it after all: the ledger makes the second copy harmless."""
    entries = store.outbox(job_id)
    for entry in entries:
        send_entry(store, job_id, entry, publish)
    return len(entries)


def _lost(job_id: str, store: JobStore) -> str:
    try:
        last = store.status(job_id).last_line
    except JobNotFound:
        return f"job {job_id} is gone"
    return (f"job {job_id} was ended as aborted while this load could not renew its lease; "
            f"rows through line {last} are enqueued: go on with --resume {job_id}")


class LeaseKeeper(threading.Thread):
    """Renews the producer's lease while a load runs, also while it waits on a slow reader or
    the broker; stops at the end of the `with` block."""

    def __init__(self, store: JobStore, job_id: str, producer: str, *, lease_s: float | None = None) -> None:
        super().__init__(name=f"telequeue-lease-{job_id}", daemon=True)
        self._store, self._job_id, self._producer = store, job_id, producer
        self._lease_s = lease_s if lease_s is not None else get_settings().producer_lease_s
        self._stop_event = threading.Event()

    def __enter__(self) -> LeaseKeeper:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self._lease_s / 3):
            try:
                if not self._store.refresh(self._job_id, self._producer, lease_s=self._lease_s):
                    return  # produced, or lost: the producer finds out at its next step
            except Exception:  # Redis away longer than its retries: try again next round
                log.warning("job %s: could not renew the producer's lease; will retry", self._job_id, exc_info=True)


def end_lapsed_loads(store: JobStore, publish: Publish, *, limit: int = 100) -> int:
    """A worker's share of looking after loads: end those whose producer vanished, send what
    their outbox holds, and forget them. Returns how many loads were looked at."""
    ids = store.lapsed_loads(limit)
    for job_id in ids:
        try:
            if store.end_if_lapsed(job_id):
                log.warning("job %s: its producer vanished; the load ended as aborted", job_id)
            if sent := send_outbox(store, job_id, publish):
                log.info("job %s: sent %d chunks its producer had counted", job_id, sent)
            store.forget_load(job_id)
        except Exception:
            log.exception("job %s: ending a lapsed load failed; will retry", job_id)
    return len(ids)


class LoadReaper(threading.Thread):
    """Runs end_lapsed_loads every `interval_s` in a worker."""

    def __init__(self, store: JobStore, publish: Publish, *, interval_s: float = 2.0) -> None:
        super().__init__(name="telequeue-load-reaper", daemon=True)
        self._store, self._publish, self._interval_s = store, publish, interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval_s):
            try:
                end_lapsed_loads(self._store, self._publish)
            except Exception:
                log.exception("load reaper: looking for lapsed loads failed; will retry")

    def stop(self) -> None:
        self._stop_event.set()
