"""Turn a stream of validated rows into counted chunks on the broker, never holding it whole."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from workers.intake import ContactRow, RejectedRow
from workers.jobs import JobStore
from workers.kinds import JobKind
from workers.redis_conn import get_keys, get_redis
from workers.settings import get_settings

Publish = Callable[[str, dict], None]


def start_job(
    kind: JobKind,
    rows: Iterable,
    *,
    account: str,
    target: str,
    params: dict,
    on_created: Callable[[str], None] = lambda job_id: None,
    on_progress: Callable[[int], None] = lambda n: None,
    publish: Publish | None = None,
    chunk_size: int | None = None,
    to_wire: Callable[[object], list] | None = None,
) -> str:
    """Create a job of this kind and enqueue all its rows; returns the job id.

    `params` travel in every chunk (via kind.build_chunk) and are kept with the job, so
    retry-failed can rebuild chunks; they must hold no secret. `publish(task_name, kwargs)`
    defaults to the worker app's.
    """
    if publish is None:
        from workers.app import publish
    params = {**params, "account": account}
    store = JobStore(get_redis(), get_keys())
    job_id = store.create(kind=kind.name, vendor=kind.vendor, account=account, target=target, params=params)
    on_created(job_id)
    try:
        produce(job_id, rows, store=store, chunk_size=chunk_size or get_settings().chunk_size,
                # Chunk results are never read (the ledger is the record): no result subscription per message.
                enqueue=lambda chunk: publish(kind.task_name, kind.build_chunk(job_id, params, chunk),
                                              ignore_result=True),
                on_progress=on_progress, to_wire=to_wire or contact_wire)
    except BaseException as exc:
        # The rows enqueued so far are still sent; the job must be able to end, as `aborted`.
        store.abort(job_id, reason=f"loading stopped: {type(exc).__name__}: {exc}"[:500])
        raise
    return job_id


def contact_wire(row: ContactRow) -> list:
    """A contact as it travels in a chunk message: [line, phone, fio]."""
    return [row.line, row.phone, row.fio]

#: rejects are written to Redis in batches of this size, whatever the chunk size
REJECT_BATCH = 1000


def produce(
    job_id: str,
    rows: Iterable,
    *,
    store: JobStore,
    chunk_size: int,
    enqueue: Callable[[list[list]], None],
    on_progress: Callable[[int], None] = lambda n: None,
    to_wire: Callable[[object], list] = None,
) -> None:
    """Count, record and enqueue every row (RejectedRow or a valid row that `to_wire` turns
    into its chunk form, line first); the job can finish only after this returns."""
    to_wire = to_wire or contact_wire
    chunk: list[list] = []
    rejects: list[dict] = []
    for row in rows:
        if isinstance(row, RejectedRow):
            rejects.append(row.as_record())
            if len(rejects) >= REJECT_BATCH:
                _flush(job_id, store, [], rejects, enqueue, on_progress)
                rejects = []
            continue
        chunk.append(to_wire(row))
        if len(chunk) >= chunk_size:
            _flush(job_id, store, chunk, rejects, enqueue, on_progress)
            chunk, rejects = [], []
    _flush(job_id, store, chunk, rejects, enqueue, on_progress)
    store.mark_produced(job_id)


def _flush(job_id, store, chunk, rejects, enqueue, on_progress) -> None:
    # Counted before it is enqueued, so `pending` never goes negative while workers race ahead.
    if not chunk and not rejects:
        return
    last_line = max([row[0] for row in chunk] + [reject["line"] for reject in rejects])
    store.add_rows(job_id, valid=len(chunk), rejects=rejects, last_line=last_line)
    if chunk:
        try:
            enqueue(chunk)
        except BaseException:
            store.add_rows(job_id, valid=-len(chunk), rejects=[])  # counted, never sent: not part of the job
            raise
    on_progress(len(chunk) + len(rejects))
