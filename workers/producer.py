"""Turn a stream of validated rows into counted chunks on the broker, never holding it whole."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict

from workers.intake import ContactRow, RejectedRow
from workers.jobs import JobStore

#: rejects are written to Redis in batches of this size, whatever the chunk size
REJECT_BATCH = 1000


def produce(
    job_id: str,
    rows: Iterable[ContactRow | RejectedRow],
    *,
    store: JobStore,
    chunk_size: int,
    enqueue: Callable[[list[list]], None],
    on_progress: Callable[[int], None] = lambda n: None,
) -> None:
    """Count, record and enqueue every row; the job can finish only after this returns."""
    chunk: list[list] = []
    rejects: list[dict] = []
    for row in rows:
        if isinstance(row, RejectedRow):
            rejects.append(asdict(row))
            if len(rejects) >= REJECT_BATCH:
                _flush(job_id, store, [], rejects, enqueue, on_progress)
                rejects = []
            continue
        chunk.append([row.line, row.phone, row.fio])
        if len(chunk) >= chunk_size:
            _flush(job_id, store, chunk, rejects, enqueue, on_progress)
            chunk, rejects = [], []
    _flush(job_id, store, chunk, rejects, enqueue, on_progress)
    store.mark_produced(job_id)


def _flush(job_id, store, chunk, rejects, enqueue, on_progress) -> None:
    # Counted before it is enqueued, so `pending` never goes negative while workers race ahead.
    if not chunk and not rejects:
        return
    store.add_rows(job_id, valid=len(chunk), rejects=rejects)
    if chunk:
        enqueue(chunk)
    on_progress(len(chunk) + len(rejects))
