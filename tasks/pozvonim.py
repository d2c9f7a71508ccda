"""Pozvonim tasks: every method of API v2u, one task each.

Payloads carry the doc's parameters and ids, never the API key or the token: `account` names
the credentials and the worker signs. Site settings are the typed models of
vendors.pozvonim.models (`site`, `managers`, `widget`, `blacklists`, as in the doc).
Two payloads carry a secret of someone else: a new contributor's `password` (contributors.create,
contributors.create_with_site). It travels by reference (tasks/secretrefs.py): the message holds
`tq-secret:<id>`, the worker reads the value from Redis; it is never echoed in results.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, Field, model_validator

from vendors.pozvonim import (
    Blacklists, CallRequest, CallsFilter, ContributorCallsFilter, DelayedCallRequest, Manager, NewContributor,
    NewContributorWithSite, Payment, SiteConfig, SiteSettings, Widget,
)

from vendors.pozvonim.sitechange import BlacklistsChange, SiteChange, SiteSettingsChange, WidgetChange

from tasks import reconcile
from tasks.operations import OperationPayload, operation

M = TypeVar("M", bound=BaseModel)
Id = Field(gt=0)


def part(model: type[M], payload: BaseModel, *exclude: str) -> M:
    """The vendor request model inside a payload (payload minus `account` and path ids)."""
    return model.model_validate(payload.model_dump(by_alias=True, exclude={"account", *exclude}))


class AccountPayload(OperationPayload):
    """No parameters besides the account."""


class IdsPayload(OperationPayload):
    ids: list[int] = Field(default=[], description="only these ids; every other filter is then ignored")


class SitePayload(OperationPayload):
    site_id: int = Id


class SiteConfigPayload(OperationPayload):
    """Site settings; the doc's required schedule and algorithms default to the doc's values."""

    site: SiteSettings
    managers: list[Manager] = Field(min_length=1)
    widget: Widget = Widget()
    blacklists: Blacklists = Blacklists()

    def config(self) -> SiteConfig:
        return SiteConfig(site=self.site, managers=self.managers, widget=self.widget, blacklists=self.blacklists)


class SiteChangePayload(OperationPayload):
    """Only the settings given are sent, and change; the vendor keeps every other one.
    `managers`, when given, is the whole new list."""

    site: SiteSettingsChange | None = None
    managers: list[Manager] | None = Field(default=None, min_length=1)
    widget: WidgetChange | None = None
    blacklists: BlacklistsChange | None = None

    def change(self) -> SiteChange:
        return SiteChange(site=self.site, managers=self.managers, widget=self.widget, blacklists=self.blacklists)

    @model_validator(mode="after")
    def _something(self) -> "SiteChangePayload":
        self.change()  # nothing to change is refused before anything is sent
        return self


class SiteUpdatePayload(SiteChangePayload):
    site_id: int = Id


class CallPayload(CallRequest, OperationPayload):
    site_id: int = Id


class DelayedCallPayload(DelayedCallRequest, OperationPayload):
    """`delayed` in ISO 8601 with its UTC offset, e.g. 2030-01-02T10:00:00+03:00."""

    site_id: int = Id


class CallsListPayload(CallsFilter, OperationPayload):
    """start_at/end_at are DATETIME in the profile's time zone, e.g. 2015-10-02 17:58:43."""


class CallGetPayload(OperationPayload):
    call_id: int = Id


class WidgetsListPayload(OperationPayload):
    sites_ids: list[int] = []


class WidgetGetPayload(OperationPayload):
    widget_id: int = Id


class ProfileUpdatePayload(OperationPayload):
    """The doc's api_key parameter is filled from the account's settings: keys never travel in messages."""

    timezone: str = Field(min_length=1, description="IANA name, e.g. Europe/Moscow")
    api_enable: bool = True


class PaymentPayload(Payment, OperationPayload):
    contributor_id: int = Id


class ContributorPayload(OperationPayload):
    contributor_id: int = Id


class NewContributorPayload(NewContributor, OperationPayload):
    pass


class ContributorWithSitePayload(NewContributor, SiteConfigPayload):
    pass


class ContributorSitesListPayload(IdsPayload):
    contributor_id: int = Id


class ContributorSiteCreatePayload(SiteConfigPayload):
    contributor_id: int = Id


class ContributorSitePayload(OperationPayload):
    contributor_id: int = Id
    site_id: int = Id


class ContributorSiteUpdatePayload(SiteChangePayload):
    contributor_id: int = Id
    site_id: int = Id


class ContributorCallsListPayload(ContributorCallsFilter, OperationPayload):
    contributor_id: int = Id


class ContributorCallPayload(OperationPayload):
    contributor_id: int = Id
    call_id: int = Id


def _with_site(p: ContributorWithSitePayload) -> NewContributorWithSite:
    return NewContributorWithSite(email=p.email, password=p.password, config=p.config())


def _op(name: str, payload: type[OperationPayload], call: Any, doc: str, *, idempotent: bool, **once: Any) -> Any:
    return operation(f"pozvonim.{name}", payload, call, doc=doc, idempotent=idempotent, **once)


# Sites ("Проекты")
sites_list = _op("sites.list", IdsPayload, lambda c, p: c.list_sites(p.ids), "List sites (GET /sites).",
                 idempotent=True)
sites_create = _op("sites.create", SiteConfigPayload, lambda c, p: c.create_site(p.config()),
                   "Create a site (POST /sites).", idempotent=False, reconcile=reconcile.POZVONIM_SITE)
sites_get = _op("sites.get", SitePayload, lambda c, p: c.get_site(p.site_id), "One site (GET /sites/:id).",
                idempotent=True)
sites_update = _op("sites.update", SiteUpdatePayload, lambda c, p: c.update_site(p.site_id, p.change()),
                   "Change the settings given, keep the rest (PUT /sites/:id).", idempotent=True)
sites_delete = _op("sites.delete", SitePayload, lambda c, p: c.delete_site(p.site_id),
                   "Delete a site (DELETE /sites/:id).", idempotent=True)
# Other ("Прочее")
server_time_now = _op("server_time.now", AccountPayload, lambda c, p: c.server_time(),
                      "The vendor's clock (GET /server/time/now).", idempotent=True)
# Calls ("Звонки")
calls_now = _op("calls.now", CallPayload, lambda c, p: c.call(p.site_id, part(CallRequest, p, "site_id")),
                "Start a call now (POST /sites/:id/call).", idempotent=False, reconcile=reconcile.POZVONIM_CALL)
calls_delayed = _op("calls.delayed", DelayedCallPayload,
                    lambda c, p: c.delayed_call(p.site_id, part(DelayedCallRequest, p, "site_id")),
                    "Order a call for a given time, ISO 8601 (POST /sites/:id/call/delayed).",
                    idempotent=False, reconcile=reconcile.POZVONIM_CALL)
calls_list = _op("calls.list", CallsListPayload, lambda c, p: c.list_calls(part(CallsFilter, p)),
                 "List calls by period, ids, statuses, sites, client, manager (GET /calls).", idempotent=True)
calls_get = _op("calls.get", CallGetPayload, lambda c, p: c.get_call(p.call_id), "One call (GET /calls/:id).",
                idempotent=True)
# Widget ("Виджет")
widgets_list = _op("widgets.list", WidgetsListPayload, lambda c, p: c.list_widgets(p.sites_ids),
                   "List widgets (GET /widget).", idempotent=True)
widgets_get = _op("widgets.get", WidgetGetPayload, lambda c, p: c.get_widget(p.widget_id),
                  "A widget's settings (GET /widget/:id).", idempotent=True)
# Profile ("Профиль")
profile_get = _op("profile.get", AccountPayload, lambda c, p: c.get_profile(), "The profile (GET /profile).",
                  idempotent=True)
profile_update = _op("profile.update", ProfileUpdatePayload, lambda c, p: c.update_profile(p.timezone, p.api_enable),
                     "Change timezone / api_enable (PUT /profile).", idempotent=True)
# Payments ("Платежи")
payments_transfer = _op("payments.transfer", PaymentPayload,
                        lambda c, p: c.pay_contributor(p.contributor_id, part(Payment, p, "contributor_id")),
                        "Move money to a contributor's balance (POST /payments/contributors/:id).", idempotent=False)
# Studio ("Студии")
contributors_list = _op("contributors.list", AccountPayload, lambda c, p: c.list_contributors(),
                        "List the studio's contributors (GET /contributors).", idempotent=True)
contributors_create = _op("contributors.create", NewContributorPayload,
                          lambda c, p: c.create_contributor(part(NewContributor, p)),
                          "Create a contributor (POST /contributors).",
                          idempotent=False, reconcile=reconcile.POZVONIM_CONTRIBUTOR, secrets=("password",))
contributors_get = _op("contributors.get", ContributorPayload, lambda c, p: c.get_contributor(p.contributor_id),
                       "A contributor with their sites (GET /contributors/:id).", idempotent=True)
contributors_create_with_site = _op("contributors.create_with_site", ContributorWithSitePayload,
                                    lambda c, p: c.create_contributor_with_site(_with_site(p)),
                                    "Create a contributor and their site at once (POST /contributors/sites).",
                                    idempotent=False,
                                    reconcile=reconcile.POZVONIM_CONTRIBUTOR_WITH_SITE, secrets=("password",))
# Studio project management ("Студии управление проектами")
contributor_sites_list = _op("contributor_sites.list", ContributorSitesListPayload,
                             lambda c, p: c.list_contributor_sites(p.contributor_id, p.ids),
                             "A contributor's sites (GET /contributors/:id/sites).", idempotent=True)
contributor_sites_create = _op("contributor_sites.create", ContributorSiteCreatePayload,
                               lambda c, p: c.create_contributor_site(p.contributor_id, p.config()),
                               "Create a contributor's site (POST /contributors/:id/sites).",
                               idempotent=False, reconcile=reconcile.POZVONIM_CONTRIBUTOR_SITE)
contributor_sites_get = _op("contributor_sites.get", ContributorSitePayload,
                            lambda c, p: c.get_contributor_site(p.contributor_id, p.site_id),
                            "One site of a contributor (GET /contributors/:id/sites/:id).", idempotent=True)
contributor_sites_update = _op("contributor_sites.update", ContributorSiteUpdatePayload,
                               lambda c, p: c.update_contributor_site(p.contributor_id, p.site_id, p.change()),
                               "Change the given settings of a contributor's site (PUT /contributors/:id/sites/:id).",
                               idempotent=True)
contributor_sites_delete = _op("contributor_sites.delete", ContributorSitePayload,
                               lambda c, p: c.delete_contributor_site(p.contributor_id, p.site_id),
                               "Delete a contributor's site (DELETE /contributors/:id/sites/:id).", idempotent=True)
# Studio calls ("Студии просмотр звонков")
contributor_calls_list = _op("contributor_calls.list", ContributorCallsListPayload,
                             lambda c, p: c.list_contributor_calls(
                                 p.contributor_id, part(ContributorCallsFilter, p, "contributor_id")),
                             "A contributor's calls by period, ids, statuses, sites (GET /contributors/:id/calls).",
                             idempotent=True)
contributor_calls_get = _op("contributor_calls.get", ContributorCallPayload,
                            lambda c, p: c.get_contributor_call(p.contributor_id, p.call_id),
                            "One call of a contributor (GET /contributors/:id/calls/:id).", idempotent=True)
# Studio payments ("Студии платежи")
contributor_payments_transfer = _op("contributor_payments.transfer", PaymentPayload,
                                    lambda c, p: c.pay_contributor_alias(
                                        p.contributor_id, part(Payment, p, "contributor_id")),
                                    "Alias of payments.transfer (POST /contributors/:id/payments).", idempotent=False)
