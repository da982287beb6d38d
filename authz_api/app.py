"""ASGI factory of the Authorization API (``authz_api.app:create_app``).

Only liveness so far; the endpoints arrive with their issue. Settings are read here, in the
factory, never at import time.
"""

from __future__ import annotations

from litestar import Litestar, get

from shared.settings import Settings

__all__ = ["create_app"]


@get("/health/live", operation_id="healthLive", sync_to_thread=False)
def health_live() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app; ``settings`` default to the environment."""
    settings = settings or Settings.from_env()
    app = Litestar(route_handlers=[health_live], openapi_config=None)
    app.state.settings = settings
    return app
