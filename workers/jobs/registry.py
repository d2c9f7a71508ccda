"""Every kind of bulk job, by name: job control (retry-failed), reports and Flower look a
job's kind up here.

The list is written out below: adding a kind is a file in workers/jobs/kinds/ and one line
here. Imports point one way (registry -> kinds -> producer): a kind's module builds its
JobKind (defined beside the producer, which is what needs it to load) and never imports this.
"""

from __future__ import annotations

from workers.jobs.kinds import obzvonilka_contacts, ringostat_campaign, ringostat_contacts
from workers.jobs.producer import JobKind

KINDS: dict[str, JobKind] = {
    kind.name: kind for kind in (ringostat_campaign.JOB_KIND, ringostat_contacts.JOB_KIND, obzvonilka_contacts.JOB_KIND)
}


def kind_of(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None


__all__ = ["KINDS", "JobKind", "kind_of"]
