"""ASGI factory of the Authorization API (``authz_api.app:create_app``).

The one assembly point: settings (read here, never at import), the shared services, the
routes, the error table, metrics and the access log.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from authz_api.errors import EXCEPTION_HANDLERS
from authz_api.openapi import openapi_config
from authz_api.routes import ROUTES, on_startup
from shared.errors import ConfigurationError
from shared.keycloak import AssertionSigner, KeycloakBackend, KeycloakRealm, python_keycloak
from shared.server.bearer_issuer import BearerIssuer
from shared.server.rate_limits import RateLimiter
from shared.server.replay_store import check_replay_settings, replay_store
from shared.server.token_service import IssuerBackend, TokenService
from shared.settings import Settings
from shared.tokens.verification import Verifier
from shared.vault.client import Vault
from shared.web.access_log import AccessLogMiddleware, configure_json_logging

__all__ = ["create_app"]

#: A token request is a few KiB at most (tokens are capped at 16 KiB).
MAX_BODY_BYTES = 64 * 1024


class MetricsController(PrometheusController):
    """``/metrics``, left out of the OpenAPI document: it is for the Prometheus scraper, in
    Prometheus's own text format, not part of the API customers program against."""

    include_in_schema = False


def _backend(
    settings: Settings, vault: Vault, bearers: BearerIssuer, issuer: str
) -> IssuerBackend | None:
    """Who issues bearers (``AUTHZ_BACKEND``): None for ours, else the Keycloak realm."""
    if settings.authz_backend != "keycloak":
        return None
    python_keycloak()  # the extra must be installed: say so now, not on the first request
    return KeycloakBackend(
        KeycloakRealm.from_settings(settings),
        AssertionSigner(vault, bearers.signing_keys),
        authz_issuer=issuer,
        audience=settings.crypto_audience,
    )


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Authorization API; ``settings`` default to the environment.

    Raises:
        ConfigurationError: ``AUTHZ_ISSUER`` is not set, neither ``REDIS_URL`` nor
            ``AUTHZ_SINGLE_INSTANCE``, or another setting is invalid
            (``AUTHZ_BACKEND=keycloak`` without the realm or without python-keycloak).
    """
    settings = settings or Settings.from_env()
    if not settings.authz_issuer:
        raise ConfigurationError("AUTHZ_ISSUER (the public base URL of this API) is required")
    check_replay_settings(settings)
    issuer = settings.authz_issuer.rstrip("/")
    vault = Vault(settings)
    verifier = Verifier(vault, settings=settings)
    bearers = BearerIssuer(
        vault,
        issuer=issuer,
        audience=settings.crypto_audience,
        lifetime=settings.bearer_lifetime,
        cache_ttl=settings.cache_ttl,
        stale_if_error=settings.cache_stale_if_error,
    )
    service = TokenService(
        verifier,
        bearers,
        replay_store(settings),
        RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        token_endpoint=f"{issuer}/oauth/token",
        # Before authentication, per address: generous (several customers may share a NAT).
        address_limiter=RateLimiter(
            settings.rate_limit_per_second * 4, settings.rate_limit_burst * 4
        ),
        jwt_bearer_limiter=RateLimiter(
            settings.jwt_bearer_rate_per_second, settings.jwt_bearer_rate_burst
        ),
        assertion_limiter=RateLimiter(
            settings.assertion_rate_per_second, settings.assertion_rate_burst
        ),
        backend=_backend(settings, vault, bearers, issuer),
    )
    configure_json_logging()
    prometheus = PrometheusConfig(app_name="authz_api", prefix="authz", group_path=True)
    return Litestar(
        route_handlers=[*ROUTES, MetricsController],
        on_startup=[on_startup],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[AccessLogMiddleware, prometheus.middleware],  # type: ignore[list-item]
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=openapi_config(),
        # Ours (JSON on stderr, configured above), not Litestar's plain-text default.
        logging_config=None,
        state=State({"token_service": service, "bearers": bearers}),
    )
