"""Pozvonim client: the account's own sites, calls, widgets, profile, payments and server time.

The studio operations (contributors and their sites, calls, payments) come from StudioApi.
No retries here beyond the one a refused token earns; the task layer decides the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import requests
from pydantic import SecretStr

from vendors.http import DEFAULT_TIMEOUT_S

from .auth import DEFAULT_REFRESH_MARGIN_S, TOKEN_TTL_S, MemoryTokenStore, TokenStore
from .models import CallRequest, CallsFilter, DelayedCallRequest, IdsFilter, Payment, ProfileUpdate, WidgetsFilter
from .replies import Call, Deleted, PaymentDone, Profile, ServerTime, Site, WidgetSettings, many, one
from .site import SiteConfig
from .sitechange import SiteChange
from .studio import StudioApi, contributor_path
from .transport import PozvonimCredentials, Transport


class PozvonimClient(StudioApi):
    def __init__(
        self,
        credentials: PozvonimCredentials,
        *,
        base_url: str,
        session: requests.Session,
        token_store: TokenStore | None = None,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        token_ttl_s: float = TOKEN_TTL_S,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
        all_post: bool = False,
    ) -> None:
        """`all_post`: send every method by POST, as the doc's text says (see methods.py)."""
        self._api_key = credentials.api_key
        self._t = Transport(
            credentials, base_url=base_url, session=session, token_store=token_store or MemoryTokenStore(),
            refresh_margin_s=refresh_margin_s, token_ttl_s=token_ttl_s, timeout_s=timeout_s, all_post=all_post,
        )

    # Sites ("Проекты")
    def list_sites(self, ids: Sequence[int] = ()) -> list[Site]:
        return many(Site, self._t.call("sites.list", "sites", IdsFilter(ids=list(ids)).params()))

    def create_site(self, config: SiteConfig) -> Site:
        return one(Site, self._t.call("sites.create", "sites", config.params()))

    def get_site(self, site_id: int) -> Site:
        return one(Site, self._t.call("sites.get", f"sites/{site_id}"))

    def update_site(self, site_id: int, change: SiteChange | SiteConfig) -> Site:
        """Sends what `change` holds: a SiteChange only the fields given, a SiteConfig everything."""
        return one(Site, self._t.call("sites.update", f"sites/{site_id}", change.params()))

    def delete_site(self, site_id: int) -> Deleted:
        self._t.call("sites.delete", f"sites/{site_id}")
        return Deleted(id=site_id)

    # Other ("Прочее")
    def server_time(self) -> ServerTime:
        return one(ServerTime, self._t.call("server_time.now", "server/time/now"))

    # Calls ("Звонки")
    def call(self, site_id: int, request: CallRequest) -> Call:
        return one(Call, self._t.call("calls.now", f"sites/{site_id}/call", request.params()))

    def delayed_call(self, site_id: int, request: DelayedCallRequest) -> Call:
        return one(Call, self._t.call("calls.delayed", f"sites/{site_id}/call/delayed", request.params()))

    def list_calls(self, calls_filter: CallsFilter | None = None) -> list[Call]:
        return many(Call, self._t.call("calls.list", "calls", (calls_filter or CallsFilter()).params()))

    def get_call(self, call_id: int) -> Call:
        return one(Call, self._t.call("calls.get", f"calls/{call_id}"))

    # Widget ("Виджет")
    def list_widgets(self, sites_ids: Sequence[int] = ()) -> list[WidgetSettings]:
        return many(WidgetSettings, self._t.call("widgets.list", "widget", WidgetsFilter(sites_ids=list(sites_ids)).params()))

    def get_widget(self, widget_id: int) -> WidgetSettings:
        return one(WidgetSettings, self._t.call("widgets.get", f"widget/{widget_id}"))

    # Profile ("Профиль")
    def get_profile(self) -> Profile:
        return one(Profile, self._t.call("profile.get", "profile"))

    def update_profile(self, timezone: str, api_enable: bool, api_key: SecretStr | None = None) -> Profile:
        """The doc requires api_key on every update: by default the key this client signs with."""
        update = ProfileUpdate(timezone=timezone, api_enable=api_enable, api_key=api_key or self._api_key)
        return one(Profile, self._t.call("profile.update", "profile", update.params()))

    # Payments ("Платежи")
    def pay_contributor(self, contributor_id: int, payment: Payment) -> PaymentDone:
        """POST payments/contributors/:id; `pay_contributor_alias` is the same via contributors/:id/payments."""
        return one(PaymentDone, self._t.call("payments.transfer", f"payments/{contributor_path(contributor_id)}", payment.params()))

