"""Which load an upload starts: the job kind's own file load (workers.jobs.registry), with
the CLI's options.

Each kind's options are the ones of its `telequeue load KIND` command, as form fields
(`campaign`, `base`, `account`, `region`, ...), checked by the kind's pydantic model before
any file is read. The load function then does what the CLI's does: checks the file's header
(a file unusable as a whole raises before a job exists), creates the job, enqueues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pydantic

from vendors.validation import describe
from workers.jobs.kind import FileLoad, OnCreated, Publish
from workers.jobs.registry import KINDS

#: job kind -> its file load, in the registry's order
LOADS: dict[str, FileLoad] = {name: kind.file_load for name, kind in KINDS.items() if kind.file_load}


class BadRequest(ValueError):
    """The form cannot start a load; the message is one line for the caller."""


def prepare_load(fields: Mapping[str, str], publish: Publish, *,
                 file_name: str | None = None) -> Callable[[str, OnCreated], str]:
    """Check the form's kind and options; returns run(path, on_created) -> job id, whose chunks
    go out through `publish` (Flower's Celery app, which is workers.app's). `file_name`: the
    file's own name, the job's (`path` is Flower's copy, under a safe name)."""
    fields = dict(fields)
    kind = fields.pop("kind", "")
    load = LOADS.get(kind)
    if load is None:
        raise BadRequest(f"kind must be one of {', '.join(LOADS)}; got {kind!r}")
    try:
        options = load.options.model_validate({k: v for k, v in fields.items() if v != ""})
    except pydantic.ValidationError as exc:
        raise BadRequest(f"{kind}: {describe(exc)}") from None
    return lambda path, on_created: load.run(path, options, on_created, publish, file_name)
