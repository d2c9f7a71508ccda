"""Put the Jobs tab into Flower's own Tornado app when `celery -A workers.app flower` runs.

Flower 2.2 has no plugin interface. It builds its Application from two module-level
objects, `flower.urls.handlers` (the route list) and `flower.urls.settings` (the
Application settings), after Celery has imported `workers.app`. `install()` edits those
two in place, before Flower reads them:
- every route's handler is guarded (workers.flower.guard): credentials on every path but
  /healthcheck, /metrics included;
- the Jobs tab's routes go in before Flower's catch-all 404 route;
- Tornado's documented `template_loader` setting serves our templates and Flower's, and its
  `static_handler_class` setting guards the static files Tornado serves from `static_path`.
Flower's `--url_prefix` rewrites the list when the Application is built, so it applies to
our routes too.
"""

from __future__ import annotations

from tornado.web import StaticFileHandler, URLSpec, url

import flower.urls
import flower.views.monitor

from workers.flower import api, pages
from workers.flower.guard import Metrics, guarded
from workers.flower.templates import Loader

ROUTES = [*pages.ROUTES, *api.ROUTES]


def install() -> None:
    handlers = flower.urls.handlers
    if any(_handler_class(route) is Metrics for route in handlers):
        return  # installed already
    routes = [_with_class(route, _replacement(_handler_class(route))) for route in handlers]
    catch_all = next(i for i, route in enumerate(routes) if _pattern(route) in (".*", ".*$"))
    routes[catch_all:catch_all] = [url(pattern, cls, name=name) for pattern, cls, name in ROUTES]
    handlers[:] = routes
    settings = flower.urls.settings
    settings["template_loader"] = Loader(settings["template_path"], autoescape="xhtml_escape")
    # Tornado serves `static_path` itself, ahead of the route list, with this class.
    settings["static_handler_class"] = guarded(settings.get("static_handler_class", StaticFileHandler))


def _replacement(handler_class: type) -> type:
    if handler_class is flower.views.monitor.Metrics:
        return Metrics
    return guarded(handler_class)


def _handler_class(route) -> type:
    return route.handler_class if isinstance(route, URLSpec) else route[1]


def _pattern(route) -> str:
    return route.regex.pattern if isinstance(route, URLSpec) else route[0]


def _with_class(route, handler_class: type):
    if isinstance(route, URLSpec):
        return url(route.regex.pattern, handler_class, route.kwargs, route.name)
    return (route[0], handler_class, *route[2:])
