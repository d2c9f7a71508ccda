"""JobKind: what the producer, job control, reports and Flower's upload need to know about a
kind of bulk job. Each module in workers/jobs/kinds/ builds its own; workers.jobs.registry
lists them. Alone in this module so that the producer, the kinds and the registry can all
import it without importing each other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

#: publish(task_name, kwargs, **options): sends one chunk (workers.app.publish, Flower's app, a client's)
Publish = Callable[..., None]
OnCreated = Callable[[str], None]


class LoadOptions(BaseModel):
    """The options of a kind's file load, as `telequeue load KIND` takes them and Flower's
    upload form sends them; a kind's own model adds its target (campaign, base, ...)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    account: str = "default"


@dataclasses.dataclass(frozen=True)
class FileLoad:
    """How a file becomes a job of a kind: its options, checked before the file is read, and
    `run(path, options, on_created, publish, file_name) -> job id`, the kind's load function called
    with them; `file_name` (None: the path's) is the name the job records, the one --resume compares."""

    options: type[LoadOptions]
    run: Callable[[str, Any, OnCreated, Publish, "str | None"], str]


@dataclasses.dataclass(frozen=True)
class JobKind:
    name: str
    vendor: str
    #: the chunk task, by name
    task_name: str
    #: (job_id, job params, wire rows) -> the chunk task's kwargs: the task's own payload model's for_job
    build_chunk: Callable[[str, dict, list[list]], dict]
    #: a valid row -> its form in a chunk message, line first: the chunk task's row codec
    to_wire: Callable[[Any], list]
    #: the row fields the report shows between `line` and `status`: the chunk task's REPORT_FIELDS
    report_fields: tuple[str, ...] = ()
    #: how an uploaded file starts a job of this kind (Flower); None for a kind loaded from code only
    file_load: FileLoad | None = None

    @property
    def report_columns(self) -> tuple[str, ...]:
        return ("line", *self.report_fields, "status", "reason")


__all__ = ["FileLoad", "JobKind", "LoadOptions", "OnCreated", "Publish"]
