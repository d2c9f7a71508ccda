"""Site settings, sent by every site create and update: `site`, `managers`, `widget`, `blacklists`.

Parameters the doc marks required (`*`) and gives a default for (the whole working-hours
schedule, the four catch algorithms) default to the doc's values here, so a caller needs
only `site.url` and one manager's phone.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .params import PHONE_PATTERN, Params


class SiteSettings(Params):
    url: str = Field(min_length=1, description="the site's address")
    manager_rule: int | None = Field(default=None, description="order of calling managers (doc default 0)")
    manager_region_enable: bool | None = None
    report_email: str | None = None
    report_period: int | None = Field(default=None, gt=0, description="seconds between reports (default 86400)")
    report_analytic: bool | None = None
    auto_payment: bool | None = None
    phone_for_client: int | None = None
    phone_for_manager: int | None = None
    notification_email: str | None = None
    notification_phone: str | None = None
    notification_type: int | None = None
    notification_notify: list[str] | None = None


class Manager(Params):
    phone: str = Field(pattern=PHONE_PATTERN)
    name: str | None = None
    region: int | None = Field(default=None, description="the branch (filial) this manager belongs to")


class DaySchedule(Params):
    from_: int = Field(default=9, alias="from", ge=0, le=24, description="hour work starts")
    to: int = Field(default=18, ge=0, le=24, description="hour work ends")
    enable: bool = True


class Schedule(Params):
    monday: DaySchedule = DaySchedule()
    tuesday: DaySchedule = DaySchedule()
    wednesday: DaySchedule = DaySchedule()
    thursday: DaySchedule = DaySchedule()
    friday: DaySchedule = DaySchedule()
    saturday: DaySchedule = DaySchedule()
    sunday: DaySchedule = DaySchedule()


class TimedAlgorithm(Params):
    time: int = Field(default=30, ge=0, description="seconds")
    enable: bool = False


class Toggle(Params):
    enable: bool = False


class Algorithms(Params):
    onenter: TimedAlgorithm = TimedAlgorithm()
    onexit: TimedAlgorithm = TimedAlgorithm()
    onwait: TimedAlgorithm = TimedAlgorithm()
    onreturn: Toggle = Toggle()


class Widget(Params):
    """`schelude` and `algoritms` are the doc's spellings, and the wire's."""

    mobile_enable: bool | None = None
    period: int | None = None
    schelude_night: bool | None = None
    api_enable: bool | None = None
    api_callback: str | None = None
    timezone: str | None = None
    timezone_auto: bool | None = None
    tracking_google_enable: bool | None = None
    tracking_yandex_enable: bool | None = None
    tracking_yandex_target: str | None = None
    tracking_google_target: str | None = None
    schelude: Schedule = Schedule()
    schelude_call_delay: int | None = None
    algoritms: Algorithms = Algorithms()
    button: bool | None = None
    button_display: int | None = None
    button_position: int | None = None
    button_position_y: int | None = Field(default=None, ge=0, le=100, description="percent")
    button_position_x: int | None = Field(default=None, ge=0, le=100, description="percent")
    window_position: int | None = None
    call_time: int | None = Field(default=None, gt=0, description="dialling timer, seconds")
    phone_prefix: str | None = None


class Blacklists(Params):
    """Each list goes out one entry per line, as the doc asks."""

    ip: list[str] = []
    url: list[str] = []
    phone: list[str] = []
    referer: list[str] = []

    @field_validator("ip", "url", "phone", "referer", mode="before")
    @classmethod
    def _lines(cls, value: Any) -> Any:
        return [line for line in value.splitlines() if line.strip()] if isinstance(value, str) else value

    def params(self) -> dict[str, Any]:
        return {name: "\n".join(getattr(self, name)) for name in ("ip", "url", "phone", "referer")}


class SiteConfig(Params):
    """Everything a site create or update sends."""

    site: SiteSettings
    managers: list[Manager] = Field(min_length=1)
    widget: Widget = Widget()
    blacklists: Blacklists = Blacklists()

    def params(self) -> dict[str, Any]:
        return {
            "site": self.site.params(),
            "managers": [manager.params() for manager in self.managers],
            "widget": self.widget.params(),
            "blacklists": self.blacklists.params(),
        }
