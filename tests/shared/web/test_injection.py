"""Services reach handlers by name (overridable), worker threads are made at start-up and
injected, and readiness refuses with NotReady."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from shared.errors import VaultUnavailable
from shared.web.dependencies import Injected, provide
from shared.web.health import NotReady, check_ready
from shared.web.threads import WorkerThreads, saturated


class Greeter:
    """A service a handler needs."""

    def __init__(self, word: str) -> None:
        self.word = word


@get("/greet")
async def _greet(greeter: Injected[Greeter], pool: Injected[anyio.CapacityLimiter]) -> str:
    return f"{greeter.word} {int(pool.total_tokens)}"


def _app(overrides: dict[str, object] | None = None) -> Litestar:
    threads = WorkerThreads(pool=3)
    return Litestar(
        route_handlers=[_greet],
        on_startup=[threads.on_startup],
        dependencies={
            **provide({"greeter": Greeter("hello")}, overrides),
            **threads.dependencies(),
        },
    )


def test_services_and_threads_are_injected_by_name() -> None:
    """A handler gets the app's service and the limiter made at start-up (in the state)."""
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
