"""Which load an upload starts: the job kind's own load function, with the CLI's options.

Each kind's options are the ones of its `telequeue load KIND` command, as form fields
(`campaign`, `base`, `account`, `region`, ...), checked by a pydantic model before any
file is read. The load function then does what the CLI's does: checks the file's header
(a file unusable as a whole raises before a job exists), creates the job, enqueues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from vendors.validation import describe
from workers.jobs.kinds.obzvonilka_contacts import load_contacts_csv
from workers.jobs.kinds.ringostat_campaign import load_campaign_csv
from workers.jobs.kinds.ringostat_contacts import load_contacts_file
from workers.jobs.producer import Publish

OnCreated = Callable[[str], None]


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    account: str = "default"


class CampaignOptions(Options):
    campaign: int = Field(ge=1)
    region: str | None = None
    phone_column: str | None = None
    name_column: str | None = None


class ObzvonilkaOptions(Options):
    base: int = Field(ge=1)
    region: str | None = None


class RingostatContactsOptions(Options):
    batch_size: int = Field(default=100, ge=1, le=1000)


def _campaign(path: str, options: CampaignOptions, on_created: OnCreated, publish: Publish) -> str:
    return load_campaign_csv(path, campaign_id=options.campaign, publish=publish, account=options.account,
                             region=options.region, phone_column=options.phone_column,
                             name_column=options.name_column, on_created=on_created)


def _obzvonilka(path: str, options: ObzvonilkaOptions, on_created: OnCreated, publish: Publish) -> str:
    return load_contacts_csv(path, base_id=options.base, publish=publish, account=options.account,
                             region=options.region, on_created=on_created)


def _ringostat_contacts(path: str, options: RingostatContactsOptions, on_created: OnCreated, publish: Publish) -> str:
    return load_contacts_file(path, publish=publish, account=options.account, batch_size=options.batch_size,
                              on_created=on_created)


@dataclass(frozen=True)
class Load:
    options: type[Options]
    run: Callable[[str, Options, OnCreated, Publish], str]


#: job kind -> its load; the names are workers.jobs.registry's (`telequeue load KIND`)
LOADS: dict[str, Load] = {
    "ringostat-campaign": Load(CampaignOptions, _campaign),
    "obzvonilka-contacts": Load(ObzvonilkaOptions, _obzvonilka),
    "ringostat-contacts": Load(RingostatContactsOptions, _ringostat_contacts),
}


class BadRequest(ValueError):
    """The form cannot start a load; the message is one line for the caller."""


def prepare_load(fields: Mapping[str, str], publish: Publish) -> Callable[[str, OnCreated], str]:
    """Check the form's kind and options; returns run(path, on_created) -> job id, whose chunks
    go out through `publish` (Flower's Celery app, which is workers.app's)."""
    fields = dict(fields)
    kind = fields.pop("kind", "")
    load = LOADS.get(kind)
    if load is None:
        raise BadRequest(f"kind must be one of {', '.join(LOADS)}; got {kind!r}")
    try:
        options = load.options.model_validate({k: v for k, v in fields.items() if v != ""})
    except pydantic.ValidationError as exc:
        raise BadRequest(f"{kind}: {describe(exc)}") from None
    return lambda path, on_created: load.run(path, options, on_created, publish)
