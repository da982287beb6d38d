"""Litestar helpers both apps share (and ``player/`` will): assembly, health, metrics, access
log, OpenAPI helpers and error-table plumbing.

The only package of ``shared`` that imports litestar; ``import shared`` never loads it.
"""

from __future__ import annotations

from shared.web.access_log import AccessLogMiddleware, configure_json_logging
from shared.web.dependencies import Injected, provide
from shared.web.error_table import ErrorRow, on_error, on_unexpected, row_for
from shared.web.health import NotReady, check_ready, liveness_route, readiness_route
from shared.web.openapi import DocumentedOperation, StructSchema, openapi_config
from shared.web.service_app import service_app
from shared.web.threads import ThreadPool

__all__ = [
    "AccessLogMiddleware",
    "DocumentedOperation",
    "ErrorRow",
    "Injected",
    "NotReady",
    "StructSchema",
    "ThreadPool",
    "check_ready",
    "configure_json_logging",
    "liveness_route",
    "on_error",
    "on_unexpected",
    "openapi_config",
    "provide",
    "readiness_route",
    "row_for",
    "service_app",
]
