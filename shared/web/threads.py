"""Worker-thread limiters: the blocking calls of each route kind get their own threads.

A route kind that may wait on a slow dependency (Vault, a JWKS endpoint) runs on a limiter
of its own, so that readiness probes and the other routes (anyio's default pool) still
answer. Limiters belong to the running event loop, so they are made at start-up; handlers
receive them by name through dependency injection.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

__all__ = ["WorkerThreads", "saturated"]


def saturated(limiter: anyio.CapacityLimiter) -> bool:
    """Every worker thread of ``limiter`` is taken: a new request would queue."""
    return limiter.borrowed_tokens >= limiter.total_tokens


class WorkerThreads:
    """Named thread limiters of given sizes, e.g. ``WorkerThreads(encrypt_threads=32)``.

    :meth:`on_startup` puts them in the app's state (where a test may borrow them all);
    :meth:`dependencies` injects each under its name.
    """

    def __init__(self, **sizes: int) -> None:
        self.sizes = sizes

    def on_startup(self, app: Litestar) -> None:
        """Create the limiters inside the running event loop."""
        for name, size in self.sizes.items():
            app.state[name] = anyio.CapacityLimiter(size)

    def dependencies(self) -> dict[str, Provide]:
        """A provider per limiter, by name (not cached: a restarted app has new ones)."""
        return {name: Provide(_from_state(name), sync_to_thread=False) for name in self.sizes}


def _from_state(name: str) -> Callable[[State], anyio.CapacityLimiter]:
    def limiter(state: State) -> anyio.CapacityLimiter:
        found: anyio.CapacityLimiter = state[name]
        return found

    return limiter
