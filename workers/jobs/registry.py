"""Kinds of bulk job: which task sends their chunks and which fields their report shows.

Job control (retry-failed) and reports look a job's kind up here; each kind's module
registers itself when imported (workers.jobkinds imports them all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class JobKind:
    name: str
    vendor: str
    #: the chunk task, by name
    task_name: str
    #: (job_id, job params, wire rows) -> the chunk task's kwargs
    build_chunk: Callable[[str, dict, list[list]], dict]
    #: the row fields the report shows between `line` and `status`
    report_fields: tuple[str, ...] = ("phone", "fio")

    @property
    def report_columns(self) -> tuple[str, ...]:
        return ("line", *self.report_fields, "status", "reason")


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> JobKind:
    import workers.jobkinds  # noqa: F401  (every kind registers on import)

    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None
