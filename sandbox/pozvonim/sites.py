"""Sites ("Проекты"): the account's own, and its contributors' (contributors/:id/sites).

One store for both: a site with `contributor_id` belongs to that contributor of the studio.
Create 201, update 200 (the parameters sent change, the rest stays), delete 204; each site
comes with a widget of its own id.
"""

from __future__ import annotations

from typing import Any

from .handler import Ctx
from .query import ints
from .siteconfig import merge_change, parse_config
from .store import Account, ContributorRec, SiteRec
from .wire import Answer, not_found, render_time, utcnow


def render_site(site: SiteRec, tz: str) -> dict[str, Any]:
    return {
        "id": site.id, "url": site.config["site"]["url"], "contributor_id": site.contributor_id,
        "widget_id": site.widget_id, "created_at": render_time(site.created_at, tz),
        "updated_at": render_time(site.updated_at, tz), **site.config,
    }


def find_site(account: Account, site_id: int, contributor_id: int | None) -> SiteRec:
    site = account.sites.get(site_id)
    if site is None or site.contributor_id != contributor_id:
        raise not_found("site", site_id)
    return site


def find_contributor(ctx: Ctx) -> ContributorRec:
    contributor = ctx.account.contributors.get(ctx.path_id("id"))
    if contributor is None:
        raise not_found("contributor", ctx.request.match_info["id"])
    return contributor


def new_site(ctx: Ctx, config: dict[str, Any], contributor_id: int | None) -> SiteRec:
    now = utcnow()
    site = SiteRec(ctx.ps.next_id(), ctx.ps.next_id(), contributor_id, config, now, now)
    ctx.account.sites[site.id] = site
    return site


def list_of(ctx: Ctx, contributor_id: int | None) -> Answer:
    wanted = set(ints(ctx.params.get("ids"), "ids"))
    sites = [site for site in ctx.account.sites.values()
             if site.contributor_id == contributor_id and (not wanted or site.id in wanted)]
    return Answer(200, [render_site(site, ctx.tz) for site in sites])


def create_in(ctx: Ctx, contributor_id: int | None) -> Answer:
    site = new_site(ctx, parse_config(ctx.params), contributor_id)
    row = ctx.row("site.create", site_id=site.id, contributor_id=contributor_id, url=site.config["site"]["url"])
    return Answer(201, render_site(site, ctx.tz), row, ("site", site.id))


def update_in(ctx: Ctx, site: SiteRec) -> Answer:
    site.config, site.updated_at = merge_change(site.config, ctx.params), utcnow()
    row = ctx.row("site.update", site_id=site.id, contributor_id=site.contributor_id, url=site.config["site"]["url"])
    return Answer(200, render_site(site, ctx.tz), row, ("site.update", site.id, row["t"]))


def delete_in(ctx: Ctx, site: SiteRec) -> Answer:
    del ctx.account.sites[site.id]
    return Answer(204, None, ctx.row("site.delete", site_id=site.id, contributor_id=site.contributor_id),
                  ("site.delete", site.id))


# The account's own sites.

def list_sites(ctx: Ctx) -> Answer:
    return list_of(ctx, None)


def create_site(ctx: Ctx) -> Answer:
    return create_in(ctx, None)


def get_site(ctx: Ctx) -> Answer:
    return Answer(200, render_site(find_site(ctx.account, ctx.path_id(), None), ctx.tz))


def update_site(ctx: Ctx) -> Answer:
    return update_in(ctx, find_site(ctx.account, ctx.path_id(), None))


def delete_site(ctx: Ctx) -> Answer:
    return delete_in(ctx, find_site(ctx.account, ctx.path_id(), None))


# A contributor's sites: contributors/:id/sites[/:site_id].

def list_contributor_sites(ctx: Ctx) -> Answer:
    return list_of(ctx, find_contributor(ctx).id)


def create_contributor_site(ctx: Ctx) -> Answer:
    return create_in(ctx, find_contributor(ctx).id)


def get_contributor_site(ctx: Ctx) -> Answer:
    site = find_site(ctx.account, ctx.path_id("site_id"), find_contributor(ctx).id)
    return Answer(200, render_site(site, ctx.tz))


def update_contributor_site(ctx: Ctx) -> Answer:
    return update_in(ctx, find_site(ctx.account, ctx.path_id("site_id"), find_contributor(ctx).id))


def delete_contributor_site(ctx: Ctx) -> Answer:
    return delete_in(ctx, find_site(ctx.account, ctx.path_id("site_id"), find_contributor(ctx).id))
