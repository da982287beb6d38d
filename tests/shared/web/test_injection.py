"""Services reach handlers by name (overridable), worker-thread pools are made at start-up
and reached through the request, and readiness refuses with NotReady."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from litestar import Litestar, Request, get
from litestar.testing import TestClient

from shared.errors import VaultUnavailable
from shared.web.dependencies import Injected, provide
from shared.web.health import NotReady, check_ready
from shared.web.threads import ThreadPool, saturated


class Greeter:
    """A service a handler needs."""

    def __init__(self, word: str) -> None:
        self.word = word


POOL = ThreadPool("pool", 3)


@get("/greet")
async def _greet(request: Request[Any, Any, Any], greeter: Injected[Greeter]) -> str:
    size = int(POOL.limiter(request).total_tokens)
    return await POOL.run(request, lambda: f"{greeter.word} {size}")


def _app(overrides: dict[str, object] | None = None) -> Litestar:
    return Litestar(
        route_handlers=[_greet],
        on_startup=[POOL.on_startup],
        dependencies=provide({"greeter": Greeter("hello")}, overrides),
    )


def test_services_are_injected_and_pools_made_at_startup() -> None:
    """A handler gets the app's service by name, and runs on the pool the app made at
    start-up (in its state)."""
    app = _app()
    with TestClient(app) as client:
        assert client.get("/greet").text == "hello 3"
        assert app.state.pool.total_tokens == 3


def test_an_override_replaces_a_service_unchecked() -> None:
    """An override replaces the service by name, even with a stand-in of another type."""

    class StandIn:
        word = "bye"

    with TestClient(_app({"greeter": StandIn()})) as client:
        assert client.get("/greet").text == "bye 3"


def test_an_override_of_nothing_is_refused() -> None:
    """Overriding a name the app does not provide is a mistake, said at once."""
    with pytest.raises(KeyError, match="greter"):
        provide({"greeter": Greeter("x")}, {"greter": Greeter("y")})


def _run(coro: Any) -> Any:
    async def main() -> Any:
        return await coro

    return anyio.run(main)


def test_check_ready() -> None:
    """Readiness answers the check's result; a service error becomes NotReady with its code
    (default Retry-After); a saturated pool is NotReady SATURATED, retry in a second."""
    pool = anyio.CapacityLimiter(1)
    assert _run(check_ready(lambda: "fine", pool, "test")) == "fine"

    def down() -> None:
        raise VaultUnavailable("gone")

    with pytest.raises(NotReady) as refused:
        _run(check_ready(down, pool, "test"))
    assert (refused.value.code, refused.value.detail, refused.value.retry_after) == (
        "VAULT_UNAVAILABLE",
        "gone",
        5,
    )

    async def busy() -> None:
        holder = object()
        pool.acquire_on_behalf_of_nowait(holder)
        try:
            assert saturated(pool)
            await check_ready(lambda: None, pool, "test")
        finally:
            pool.release_on_behalf_of(holder)

    with pytest.raises(NotReady) as saturated_refusal:
        anyio.run(busy)
    assert saturated_refusal.value.code == "SATURATED"
    assert saturated_refusal.value.detail == "all 1 test worker threads are busy"
    assert saturated_refusal.value.retry_after == 1
