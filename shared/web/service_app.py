"""The Litestar app around an API's routes: what both apps assemble the same way.

Metrics at ``/metrics``, one JSON access-log line per request, JSON logs on stderr (ours,
not Litestar's plain-text default), the app's error handlers, its services injected by
name, its worker-thread pools, and a request body limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler, ExceptionHandlersMap

from shared.web.access_log import AccessLogMiddleware, configure_json_logging
from shared.web.metrics import MetricsController, metrics_middleware
from shared.web.threads import ThreadPool

__all__ = ["service_app"]


def service_app(
    *,
    name: str,
    routes: Sequence[ControllerRouterHandler],
    exception_handlers: Mapping[type[Exception], Any],
    services: Mapping[str, Provide],
    threads: Sequence[ThreadPool],
    max_body: int,
    openapi: OpenAPIConfig,
) -> Litestar:
    """An API's app: ``name`` (``authz_api``) names its metrics (prefix ``authz``).

    Args:
        name: the package name; its metrics are prefixed with the part before ``_api``.
        routes: the route handlers (``/metrics`` is added).
        exception_handlers: the app's error table handlers, by exception class.
        services: the providers of what handlers receive by name.
        threads: the worker-thread pools, made at start-up.
        max_body: the largest request body, in bytes (a route may lower it).
        openapi: the document's configuration.
    """
    configure_json_logging()
    # Each handler takes its own exception class; Litestar's map is typed for handlers of
    # any exception, which no narrower handler is.
    handlers: ExceptionHandlersMap = dict(exception_handlers)  # type: ignore[arg-type]
    metrics = metrics_middleware(name, prefix=name.split("_", maxsplit=1)[0])
    return Litestar(
        route_handlers=[*routes, MetricsController],
        on_startup=[pool.on_startup for pool in threads],
        exception_handlers=handlers,
        # Plain ASGI middleware (access_log.py imports no Litestar), which Litestar's
        # middleware union does not spell.
        middleware=[AccessLogMiddleware, metrics],  # type: ignore[list-item]
        request_max_body_size=max_body,
        openapi_config=openapi,
        logging_config=None,
        dependencies=dict(services),
    )
