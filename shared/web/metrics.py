"""Prometheus metrics of an app: the ``/metrics`` route and the middleware that counts.

The middleware keeps Litestar's Prometheus plugin's series (``{prefix}_requests_total``,
``_request_duration_seconds``, ``_requests_in_progress``, ``_requests_error_total``, labelled
``method``, ``path``, ``status_code``, ``app_name``) at a few microseconds a request: the
plugin builds a ``Request`` and looks up each series' labelled child on every call (about a
tenth of a request's CPU here, issue 17), where this one resolves a child once per (route,
method, status) and keeps it. Paths are route templates (``/v1/accounts/{account_id}/...``),
so an attacker's random paths and ids cannot grow the metrics without bound.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.plugins.prometheus import PrometheusController
from prometheus_client import Counter, Gauge, Histogram

__all__ = ["MetricsController", "MetricsMiddleware", "metrics_middleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LABELS = ("method", "path", "status_code", "app_name")
#: prometheus_client registers a series name once per process; the apps of one process
#: (the tests run both APIs in one) share the series and tell themselves apart by app_name.
_SERIES: dict[str, Counter | Gauge | Histogram] = {}


class MetricsController(PrometheusController):
    """``/metrics``, left out of the OpenAPI document: it is for the Prometheus scraper, in
    Prometheus's own text format, not part of the API customers program against."""

    include_in_schema = False


def _series(kind: type[Counter | Gauge | Histogram], name: str, doc: str) -> Any:
    found = _SERIES.get(name)
    if found is None:
        if kind is Gauge:
            # Summed over the live workers in prometheus_client's multiprocess mode.
            found = Gauge(name, doc, _LABELS, multiprocess_mode="livesum")
        else:
            found = kind(name, doc, _LABELS)
        _SERIES[name] = found
    return found


class MetricsMiddleware:
    """Counts each HTTP request of the routes it wraps, by route template and status."""

    def __init__(self, app: ASGIApp, *, app_name: str, prefix: str) -> None:
        self.app = app
        self._name = app_name
        self._total: Counter = _series(Counter, f"{prefix}_requests_total", "Total requests")
        self._errors: Counter = _series(
            Counter, f"{prefix}_requests_error_total", "Total errors in requests"
        )
        self._seconds: Histogram = _series(
            Histogram, f"{prefix}_request_duration_seconds", "Request duration, in seconds"
        )
        self._progress: Gauge = _series(
            Gauge, f"{prefix}_requests_in_progress", "Total requests currently in progress"
        )
        # (method, path template[, status]) -> the series' children, resolved once.
        self._running: dict[tuple[str, str], Any] = {}
        self._done: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def _finished(self, method: str, path: str, status: int) -> tuple[Any, Any, Any]:
        labels = (method, path, str(status), self._name)
        children = (
            self._total.labels(*labels),
            self._seconds.labels(*labels),
            self._errors.labels(*labels) if status >= 500 else None,
        )
        self._done[method, path, status] = children
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method: str = scope["method"]
        path: str = scope.get("path_template") or scope["path"]
        running = self._running.get((method, path))
        if running is None:
            # The plugin's gauge carried status 200 while in progress; kept so dashboards hold.
            running = self._progress.labels(method, path, "200", self._name)
            self._running[method, path] = running
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        running.inc()
        try:
            await self.app(scope, receive, record_status)
        finally:
            running.dec()
            total, seconds, errors = self._done.get((method, path, status)) or self._finished(
                method, path, status
            )
            total.inc()
            seconds.observe(time.perf_counter() - start)
            if errors is not None:
                errors.inc()


def metrics_middleware(app_name: str, prefix: str) -> DefineMiddleware:
    """The middleware counting requests per route of ``app_name``, series named ``prefix_*``."""
    # Plain ASGI (no Litestar types in the class), which DefineMiddleware's signature does
    # not spell.
    return DefineMiddleware(MetricsMiddleware, app_name=app_name, prefix=prefix)  # type: ignore[arg-type]
