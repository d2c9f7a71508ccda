"""Pozvonim API v2u emulator, served under /pozvonim/v2u.

Contract: ../shared/vendor-docs/pozvonim-api-v2u.txt. The doc fixes auth, signing, the
error structure and the DATETIME / TRUE-FALSE formats, not the shapes of successful answers;
those are this emulator's, and vendors/pozvonim/replies.py reads them.

    routes.py      the method table (verb + path) and PLUGIN's routes
    auth.py        auth/token and the per-request check (token, caller IP, sign)
    query.py       PHP parse_str / http_build_query / urlencode, values
    handler.py     the shared pipeline for signed operations
    sites.py, siteconfig.py, calls.py, studio.py, account.py   the operations
    store.py       config, tokens and data in memory;  wire.py  answers and errors
    admin.py       /_sandbox/pozvonim/{config,tokens/expire,reset} and PozvonimControl
"""

from ..vendor import VendorPlugin
from .admin import PozvonimControl, configure
from .routes import METHODS, ROUTES
from .store import DEFAULT_API_KEY, DEFAULT_UID, TOKEN_TTL_S

PLUGIN = VendorPlugin(
    name="pozvonim",
    routes=ROUTES,
    row_filters={"kind": "kind", "uid": "uid", "site": "site_id", "contributor": "contributor_id"},
)

__all__ = ["DEFAULT_API_KEY", "DEFAULT_UID", "METHODS", "PLUGIN", "TOKEN_TTL_S", "PozvonimControl", "configure"]
