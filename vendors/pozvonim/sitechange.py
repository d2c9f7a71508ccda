"""A site update that changes only what the caller gives.

`SiteConfig` is what a create sends: everything, the doc's defaults filled in. An update built
from it would reset every setting the caller did not mention (schedule, algorithms, blacklists)
to those defaults. `SiteChange` has no defaults at all: a field left out is not sent, so the
vendor keeps its value. `managers`, when given, is the whole new list of managers.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from .params import Params
from .site import Blacklists, Manager, SiteSettings, Widget


class DayChange(Params):
    from_: int | None = Field(default=None, alias="from", ge=0, le=24)
    to: int | None = Field(default=None, ge=0, le=24)
    enable: bool | None = None


class ScheduleChange(Params):
    monday: DayChange | None = None
    tuesday: DayChange | None = None
    wednesday: DayChange | None = None
    thursday: DayChange | None = None
    friday: DayChange | None = None
    saturday: DayChange | None = None
    sunday: DayChange | None = None


class TimedChange(Params):
    time: int | None = Field(default=None, ge=0)
    enable: bool | None = None


class ToggleChange(Params):
    enable: bool | None = None


class AlgorithmsChange(Params):
    onenter: TimedChange | None = None
    onexit: TimedChange | None = None
    onwait: TimedChange | None = None
    onreturn: ToggleChange | None = None


class WidgetChange(Widget):
    schelude: ScheduleChange | None = None  # type: ignore[assignment]
    algoritms: AlgorithmsChange | None = None  # type: ignore[assignment]


class SiteSettingsChange(SiteSettings):
    url: str | None = Field(default=None, min_length=1)  # type: ignore[assignment]


class BlacklistsChange(Blacklists):
    """A list given replaces that list (an empty one clears it); a list left out stays."""

    ip: list[str] | None = None  # type: ignore[assignment]
    url: list[str] | None = None  # type: ignore[assignment]
    phone: list[str] | None = None  # type: ignore[assignment]
    referer: list[str] | None = None  # type: ignore[assignment]

    def params(self) -> dict[str, Any]:
        return {name: "\n".join(lines) for name in ("ip", "url", "phone", "referer")
                if (lines := getattr(self, name)) is not None}


class SiteChange(Params):
    site: SiteSettingsChange | None = None
    managers: list[Manager] | None = Field(default=None, min_length=1)
    widget: WidgetChange | None = None
    blacklists: BlacklistsChange | None = None

    @model_validator(mode="after")
    def _something(self) -> SiteChange:
        if not self.params():
            raise ValueError("nothing to change: give at least one of site, managers, widget, blacklists fields")
        return self

    def params(self) -> dict[str, Any]:
        groups = {
            "site": self.site.params() if self.site else {},
            "managers": [manager.params() for manager in self.managers or []],
            "widget": self.widget.params() if self.widget else {},
            "blacklists": self.blacklists.params() if self.blacklists else {},
        }
        return {name: value for name, value in groups.items() if value}
