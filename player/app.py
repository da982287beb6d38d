"""ASGI factory of the campaign player (``player.app:create_app``).

The one assembly point: settings (read here, never at import), the :class:`Player` the
handlers receive by name, the routes, the error tables, metrics and the access log.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Litestar
from litestar.openapi.spec import Tag

from player.errors import API_HANDLERS
from player.routes import ROUTES
from shared.identity import Player
from shared.identity.sso import SsoClient
from shared.settings import Settings
from shared.web.dependencies import provide
from shared.web.openapi import openapi_config
from shared.web.service_app import service_app

__all__ = ["create_app"]

_DESCRIPTION = (
    "The campaign player's identification side: campaign pages that verify a participant's "
    "secure token (JWS or JWE) and prefill the form, the participation form, the embed "
    "loader, and `POST /v1/identify` for a front end of one's own."
)


def create_app(
    settings: Settings | None = None, *, overrides: Mapping[str, object] | None = None
) -> Litestar:
    """Build the player; ``settings`` default to the environment.

    Handlers receive ``player`` (:class:`Player`) and ``sso`` (:class:`SsoClient`);
    ``overrides`` may replace them.

    Raises:
        ConfigurationError: ``REDIS_URL`` is unset, or the form keys are not in Vault
            (``tokenctl vault bootstrap`` creates them).
    """
    settings = settings or Settings.from_env()
    player = (overrides or {}).get("player") or Player.from_settings(settings)
    sso = (overrides or {}).get("sso") or SsoClient.from_settings(settings)
    app = service_app(
        name="player",
        routes=ROUTES,
        # Litestar's map is keyed by status codes too; ours by exception classes only.
        exception_handlers=API_HANDLERS,  # type: ignore[arg-type]
        services=provide({"player": player, "sso": sso}, overrides),
        threads=(),
        max_body=80 * 1024,
        openapi=openapi_config(
            "Campaign player",
            _DESCRIPTION,
            [
                Tag(name="Player", description="Campaign pages (HTML)."),
                Tag(name="Identification", description="The identification result (JSON)."),
            ],
            docs_assets=settings.docs_assets,
        ),
    )
    app.state.public_url = settings.player_public_url
    if isinstance(player, Player):
        app.on_startup.append(player.start)
        app.on_shutdown.append(player.close)
    if isinstance(sso, SsoClient):
        app.on_shutdown.append(sso.close)
    return app
