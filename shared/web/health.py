"""Health probes both apps share: the liveness route, and how readiness says no.

Readiness checks differ per app (what each depends on), but they refuse the same way: by
raising :class:`NotReady`, which each app's error table answers 503 with Retry-After, in its
own body shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from litestar import get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Operation

from shared.errors import ServiceError
from shared.web.openapi import OPERATIONS_TAG, DocumentedOperation
from shared.web.threads import saturated
from shared.wire import RETRY_AFTER

__all__ = ["NotReady", "check_ready", "liveness_route", "readiness_route"]

T = TypeVar("T")


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
        tags=[OPERATIONS_TAG.name],
        responses=dict(responses),
    )
    async def health_live() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok"}

    return health_live


def readiness_route(
    description: str,
    responses: Mapping[int, ResponseSpec],
    *,
    operation_class: type[Operation] = DocumentedOperation,
) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
    """The decorator of an app's ``GET /health/ready`` handler: what it checks
    (``description``), its ``responses`` and the operation adding their headers."""
    return get(
        "/health/ready",
        operation_id="healthReady",
        summary="Readiness",
        description=description,
        tags=[OPERATIONS_TAG.name],
        responses=dict(responses),
        operation_class=operation_class,
    )


async def check_ready(check: Callable[[], T], threads: anyio.CapacityLimiter, what: str) -> T:
    """Run ``check`` (blocking) and answer what it returns, unless the app is not ready.

    ``check`` runs on anyio's default threads, not on ``threads``: those are the hot path's
    (``what`` names them), and may all be taken, which is what the second test is about.

    Raises:
        NotReady: ``check`` failed (its code: ``VAULT_UNAVAILABLE``…, or its own
            :class:`NotReady`), or every one of ``threads`` (``what`` worker threads) is
            busy (``SATURATED``, retry in a second: one frees up within a call).
    """
    try:
        result = await anyio.to_thread.run_sync(check)
    except ServiceError as exc:
        raise NotReady(exc.code, exc.detail) from exc
    if saturated(threads):
        detail = f"all {int(threads.total_tokens)} {what} worker threads are busy"
        raise NotReady("SATURATED", detail, retry_after=1)
    return result
