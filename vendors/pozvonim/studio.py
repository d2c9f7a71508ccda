"""Studio operations: contributors (the studio's clients) and their sites, calls and payments."""

from __future__ import annotations

from collections.abc import Sequence

from .models import ContributorCallsFilter, IdsFilter, NewContributor, NewContributorWithSite, Payment
from .replies import Call, Contributor, ContributorWithSite, Deleted, PaymentDone, Site, many, one
from .site import SiteConfig
from .sitechange import SiteChange
from .transport import Transport


def contributor_path(contributor_id: int) -> str:
    return f"contributors/{contributor_id}"


class StudioApi:
    _t: Transport  # set by PozvonimClient

    # Studios ("Студии")
    def list_contributors(self) -> list[Contributor]:
        return many(Contributor, self._t.call("contributors.list", "contributors"))

    def create_contributor(self, contributor: NewContributor) -> Contributor:
        return one(Contributor, self._t.call("contributors.create", "contributors", contributor.params()))

    def get_contributor(self, contributor_id: int) -> Contributor:
        """The contributor with extended information (their sites)."""
        return one(Contributor, self._t.call("contributors.get", contributor_path(contributor_id)))

    # Studio project management ("Студии управление проектами")
    def create_contributor_with_site(self, request: NewContributorWithSite) -> ContributorWithSite:
        return one(ContributorWithSite, self._t.call("contributors.create_with_site", "contributors/sites", request.params()))

    def list_contributor_sites(self, contributor_id: int, ids: Sequence[int] = ()) -> list[Site]:
        path = f"{contributor_path(contributor_id)}/sites"
        return many(Site, self._t.call("contributor_sites.list", path, IdsFilter(ids=list(ids)).params()))

    def create_contributor_site(self, contributor_id: int, config: SiteConfig) -> Site:
        return one(Site, self._t.call("contributor_sites.create", f"{contributor_path(contributor_id)}/sites", config.params()))

    def get_contributor_site(self, contributor_id: int, site_id: int) -> Site:
        return one(Site, self._t.call("contributor_sites.get", f"{contributor_path(contributor_id)}/sites/{site_id}"))

    def update_contributor_site(self, contributor_id: int, site_id: int, change: SiteChange | SiteConfig) -> Site:
        """Sends what `change` holds: a SiteChange only the fields given, a SiteConfig everything."""
        path = f"{contributor_path(contributor_id)}/sites/{site_id}"
        return one(Site, self._t.call("contributor_sites.update", path, change.params()))

    def delete_contributor_site(self, contributor_id: int, site_id: int) -> Deleted:
        self._t.call("contributor_sites.delete", f"{contributor_path(contributor_id)}/sites/{site_id}")
        return Deleted(id=site_id)

    # Studio calls ("Студии просмотр звонков")
    def list_contributor_calls(self, contributor_id: int, calls_filter: ContributorCallsFilter | None = None
                               ) -> list[Call]:
        params = (calls_filter or ContributorCallsFilter()).params()
        return many(Call, self._t.call("contributor_calls.list", f"{contributor_path(contributor_id)}/calls", params))

    def get_contributor_call(self, contributor_id: int, call_id: int) -> Call:
        return one(Call, self._t.call("contributor_calls.get", f"{contributor_path(contributor_id)}/calls/{call_id}"))

    # Studio payments ("Студии платежи")
    def pay_contributor_alias(self, contributor_id: int, payment: Payment) -> PaymentDone:
        """POST contributors/:id/payments, the doc's alias of payments/contributors/:id."""
        path = f"{contributor_path(contributor_id)}/payments"
        return one(PaymentDone, self._t.call("contributor_payments.transfer", path, payment.params()))
