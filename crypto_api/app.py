"""ASGI factory of the Crypto API (``crypto_api.app:create_app``).

The one assembly point: settings (read here, never at import), the shared services, the
routes, the error table, metrics and the access log.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from crypto_api.errors import EXCEPTION_HANDLERS
from crypto_api.openapi import openapi_config
from crypto_api.routes import ROUTES, on_startup
from shared.accounts.keys import KeyStore
from shared.errors import ConfigurationError
from shared.keycloak import KeycloakRealm, keycloak_trusted_issuer
from shared.server.bearer_check import BearerChecker
from shared.server.encrypt_service import EncryptService
from shared.server.rate_limits import RateLimiter
from shared.settings import Settings
from shared.tokens.compact import Limits
from shared.tokens.verification import Verifier
from shared.vault.client import Vault
from shared.web.access_log import AccessLogMiddleware, configure_json_logging

__all__ = ["create_app"]


class MetricsController(PrometheusController):
    """``/metrics``, left out of the OpenAPI document: it is for the Prometheus scraper, in
    Prometheus's own text format, not part of the API customers program against."""

    include_in_schema = False


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Crypto API; ``settings`` default to the environment.

    Raises:
        ConfigurationError: ``AUTHZ_ISSUER`` is not set while our bearers are trusted (they
            are checked against it), or the Keycloak realm is not while its bearers are.
    """
    settings = settings or Settings.from_env()
    trusted = settings.trusted_issuers  # CRYPTO_TRUSTED_ISSUERS: builtin, keycloak
    jwks_url = settings.jwks_url
    if "builtin" in trusted and (not settings.authz_issuer or not jwks_url):
        raise ConfigurationError(
            "AUTHZ_ISSUER (the Authorization API's public URL, the bearers' iss) is required"
        )
    realms = (
        [keycloak_trusted_issuer(KeycloakRealm.from_settings(settings))]
        if "keycloak" in trusted
        else []
    )
    issuer = settings.authz_issuer.rstrip("/") if settings.authz_issuer else None
    builtin = "builtin" in trusted
    vault = Vault(settings)
    service = EncryptService(
        Verifier(vault, settings=settings),
        KeyStore(vault),
        settings,
        bearers=BearerChecker(
            jwks_url if builtin else None,
            issuer=issuer if builtin else None,
            audience=settings.crypto_audience,
            trusted=realms,
        ),
        limiter=RateLimiter(settings.crypto_rate_per_second, settings.crypto_rate_burst),
    )
    configure_json_logging()
    prometheus = PrometheusConfig(app_name="crypto_api", prefix="crypto", group_path=True)
    # A batch of the largest tokens, with JSON overhead.
    max_body = settings.batch_max * (Limits().max_token_bytes + 16) + 1024
    return Litestar(
        route_handlers=[*ROUTES, MetricsController],
        on_startup=[on_startup],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[AccessLogMiddleware, prometheus.middleware],  # type: ignore[list-item]
        request_max_body_size=max_body,
        openapi_config=openapi_config(),
        logging_config=None,
        state=State({"encrypt_service": service}),
    )
