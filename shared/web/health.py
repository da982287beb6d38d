"""Health probes both apps share: the liveness route, and how readiness says no.

Readiness checks differ per app (what each depends on), but they refuse the same way: by
raising :class:`NotReady`, which each app's error table answers 503 with Retry-After, in its
own body shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar import get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from shared.wire import RETRY_AFTER

__all__ = ["NotReady", "liveness_route"]


class NotReady(Exception):
    """Not ready to serve: ``code`` says why (``VAULT_UNAVAILABLE``, ``SATURATED``…).

    Not a :class:`~shared.errors.ServiceError`: it is an answer of the readiness probe,
    never an error of a service, and its ``code`` is often one of the failure underneath.
    """

    def __init__(self, code: str, detail: str, *, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retry_after: int | None = retry_after


def liveness_route(responses: Mapping[int, ResponseSpec]) -> HTTPRouteHandler:
    """``GET /health/live``, documented with the app's ``responses`` (its 200 schema)."""

    @get(
        "/health/live",
        operation_id="healthLive",
        summary="Liveness",
        description="The process is up; no dependency is checked.",
        tags=["Operations"],
        responses=dict(responses),
    )
    async def health_live() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok"}

    return health_live
