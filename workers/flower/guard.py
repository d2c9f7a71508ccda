"""Flower's credentials on every path but /healthcheck, and CSRF checks for the Jobs tab's POSTs.

Flower 2.2 asks for credentials only in handlers decorated with `@web.authenticated`:
`/metrics`, `/static/...`, `/login` and unknown paths answer without them. `guarded(cls)`
puts `Guarded` in front of a handler class: it asks for the same credentials in
`prepare()`, before a body is read or any work is done. With `--basic-auth` that is every
path but `/healthcheck`. With OAuth only (`--auth`) Flower's own login flow must stay
reachable, so only `/metrics` and the Jobs tab are guarded, by the login cookie.
"""

from __future__ import annotations

import hmac

import flower.views.monitor
from flower.views import BaseHandler
from tornado import web

from workers.settings import get_settings

#: what a load balancer or Kubernetes probe may ask without credentials
OPEN_HANDLERS = (flower.views.monitor.Healthcheck,)


def require_user(handler: web.RequestHandler) -> None:
    """Raise 401 unless the request carries Flower's credentials (when Flower has any)."""
    options = handler.application.options
    if options.basic_auth:
        # Flower's own check: raises 401 on a missing or wrong Authorization header.
        if not BaseHandler.get_current_user(handler):
            raise web.HTTPError(401)


def require_user_or_login(handler: web.RequestHandler) -> None:
    """require_user, and with OAuth the login cookie too (for the paths Flower leaves open)."""
    require_user(handler)
    if handler.application.options.auth and not BaseHandler.get_current_user(handler):
        raise web.HTTPError(401)


class Guarded:
    """Mixin: no credentials, no answer, whatever the handler class behind it does."""

    def prepare(self):
        require_user(self)
        return super().prepare()

    def check_xsrf_cookie(self) -> None:
        # Tornado checks a POST's CSRF token before prepare(): ask for credentials first, so a
        # stranger learns nothing but 401.
        require_user(self)
        super().check_xsrf_cookie()

    def write_error(self, status_code: int, **kwargs) -> None:
        if status_code == 401:
            # StaticFileHandler and friends would answer a bare 401 the browser never prompts for.
            self.set_header("WWW-Authenticate", 'Basic realm="flower"')
            self.finish("Access denied")
            return
        super().write_error(status_code, **kwargs)


def guarded(handler_class: type) -> type:
    if handler_class in OPEN_HANDLERS or issubclass(handler_class, Guarded):
        return handler_class
    if "__new__" in vars(handler_class):
        return _guarded_factory(handler_class)
    return type(handler_class.__name__, (Guarded, handler_class), {"__module__": __name__})


def _guarded_factory(factory: type) -> type:
    """Flower's LoginHandler is a factory: its __new__ builds its auth provider's handler (or a
    404 handler). The handler it builds gets the guard, so /login asks for credentials too."""

    def __new__(cls, *args, **kwargs):
        handler = factory(*args, **kwargs)
        handler.__class__ = guarded(type(handler))
        return handler

    return type(factory.__name__, (factory,), {"__module__": __name__, "__new__": __new__})


class Metrics(Guarded, flower.views.monitor.Metrics):
    """Flower's /metrics (its own metrics and telequeue's), behind Flower's credentials or,
    when `TELEQUEUE_FLOWER_METRICS_TOKEN` is set, `Authorization: Bearer <token>` too:
    Prometheus then scrapes with a token that cannot shut a worker down."""

    def prepare(self):
        token = get_settings().flower_metrics_token.get_secret_value()
        header = self.request.headers.get("Authorization", "")
        if token and header.startswith("Bearer "):
            if hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode()):
                return None
            raise web.HTTPError(401)
        options = self.application.options
        if token and not (options.basic_auth or options.auth):
            raise web.HTTPError(401)  # a token is set and Flower has no login: only the token opens it
        require_user_or_login(self)
        return None


class CsrfChecked:
    """Mixin for the Jobs tab's handlers: credentials first, then proof the POST is not cross-site.

    Credentials first (see Guarded.check_xsrf_cookie). Then Flower's own check refuses a request a
    browser marks cross-site (`Sec-Fetch-Site`) or from a foreign `Origin`. Then one of:
    - the page's token: the `_xsrf` cookie echoed in an `X-XSRFToken` header (or `_xsrf`
      form field), which another site can neither read nor set;
    - an `X-Requested-With` header (any value), which scripts such as curl send: a
      cross-site form cannot send a custom header, and a cross-site fetch() could only
      after a CORS preflight that Flower never grants while it has a login.
    """

    def check_xsrf_cookie(self) -> None:
        require_user_or_login(self)
        super().check_xsrf_cookie()  # Guarded's, then Flower's
        if self.request.headers.get("X-Requested-With"):
            return
        web.RequestHandler.check_xsrf_cookie(self)
