"""Every kind of bulk job, by name: job control (retry-failed), reports and Flower (its
upload form too) look a job's kind up here.

The list is written out below. Adding a kind takes:
- a module in workers/jobs/kinds/ building its JobKind (workers.jobs.kind): its chunk task,
  whose payload model builds the chunk message (ChunkPayload.for_job) and whose row class
  holds the wire codec and REPORT_FIELDS (tasks/); its reader and checks; its load
  function, and its FileLoad (options model + adapter) for Flower's upload;
- one line here;
- a `telequeue load KIND` subcommand in workers/cli/commands.py (the CLI's commands and
  options are written out, one per kind).
Imports point one way (registry -> kinds -> kind, producer): a kind's module never imports this.
"""

from __future__ import annotations

from workers.jobs.kind import JobKind
from workers.jobs.kinds import obzvonilka_contacts, ringostat_campaign, ringostat_contacts

KINDS: dict[str, JobKind] = {
    kind.name: kind for kind in (ringostat_campaign.JOB_KIND, obzvonilka_contacts.JOB_KIND, ringostat_contacts.JOB_KIND)
}


def kind_of(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None


__all__ = ["KINDS", "JobKind", "kind_of"]
