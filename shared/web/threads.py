"""Worker-thread pools: the blocking calls of each route kind get their own threads.

A route kind that may wait on a slow dependency (Vault, a JWKS endpoint) runs on threads of
its own, so that readiness probes and the other routes (anyio's default pool) still answer.
A :class:`ThreadPool` is configuration (a name and a size); each app makes its limiter at
start-up, inside its event loop, and keeps it in its state (where a test may borrow every
thread). Handlers reach it through the request they already have, not as an injected
dependency: Litestar resolves two or more dependencies of a handler in a task group, which
costs tens of microseconds on every call of the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import msgspec
from litestar import Litestar
from litestar.connection import ASGIConnection

__all__ = ["ThreadPool", "saturated"]

T = TypeVar("T")


def saturated(limiter: anyio.CapacityLimiter) -> bool:
    """Every worker thread of ``limiter`` is taken: a new request would queue."""
    return limiter.borrowed_tokens >= limiter.total_tokens


class ThreadPool(msgspec.Struct, frozen=True):
    """``size`` worker threads per app for one kind of call, ``app.state[name]`` once made."""

    name: str
    size: int

    def on_startup(self, app: Litestar) -> None:
        """Make the pool's limiter inside the running event loop."""
        app.state[self.name] = anyio.CapacityLimiter(self.size)

    def limiter(self, connection: ASGIConnection[Any, Any, Any, Any]) -> anyio.CapacityLimiter:
        """The pool's limiter in the app serving ``connection``."""
        found: anyio.CapacityLimiter = connection.app.state[self.name]
        return found

    async def run(self, connection: ASGIConnection[Any, Any, Any, Any], call: Callable[[], T]) -> T:
        """Run the blocking ``call`` on one of the pool's threads, waiting for one if all
        are taken."""
        return await anyio.to_thread.run_sync(call, limiter=self.limiter(connection))
