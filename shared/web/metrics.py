"""Prometheus metrics of an app: the ``/metrics`` route and the middleware that counts."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import Middleware

__all__ = ["MetricsController", "metrics_middleware"]


class MetricsController(PrometheusController):
    """``/metrics``, left out of the OpenAPI document: it is for the Prometheus scraper, in
    Prometheus's own text format, not part of the API customers program against."""

    include_in_schema = False


def metrics_middleware(app_name: str, prefix: str) -> Middleware:
    """The middleware counting requests per route (``group_path``: by route, not by path,
    so an attacker's random paths cannot grow the metrics without bound)."""
    return PrometheusConfig(app_name=app_name, prefix=prefix, group_path=True).middleware
