"""ASGI factory of the Authorization API (``authz_api.app:create_app``).

The one assembly point: settings (read here, never at import), the shared services the
handlers receive by name, the routes, the error table, metrics and the access log.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Litestar

from authz_api.errors import EXCEPTION_HANDLERS
from authz_api.openapi import openapi_config
from authz_api.routes import ROUTES, THREADS
from authz_api.schemas import MAX_BODY_BYTES
from shared.errors import ConfigurationError
from shared.keycloak import AssertionSigner, KeycloakBackend, KeycloakRealm, python_keycloak
from shared.server.account_changes import listen_for_account_changes
from shared.server.bearer_issuer import BearerIssuer
from shared.server.replay_store import check_replay_settings, replay_store
from shared.server.token_service import IssuerBackend, TokenService
from shared.settings import Settings
from shared.state.rate_limits import Limiters
from shared.tokens.verification import Verifier
from shared.vault import Vault
from shared.web.dependencies import provide
from shared.web.service_app import service_app

__all__ = ["create_app"]


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


def create_app(
    settings: Settings | None = None, *, overrides: Mapping[str, object] | None = None
) -> Litestar:
    """Build the Authorization API; ``settings`` default to the environment.

    Handlers receive ``token_service`` (:class:`TokenService`) and ``bearers``
    (:class:`BearerIssuer`); ``overrides`` replaces either by name (tests: a failing
    stand-in).

    Raises:
        KeyError: an override names neither.
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
    # With REDIS_URL every instance draws from one budget per key; while Redis is down each
    # limit falls back to a per-process bucket (docs/decisions.md: why for each).
    limiters = Limiters(settings.redis_url)
    service = TokenService(
        verifier,
        bearers,
        replay_store(settings),
        limiters.limiter(
            "authz:account", settings.rate_limit_per_second, settings.rate_limit_burst
        ),
        token_endpoint=f"{issuer}/oauth/token",
        # Before authentication, per address: generous (several customers may share a NAT).
        address_limiter=limiters.limiter(
            "authz:address", settings.rate_limit_per_second * 4, settings.rate_limit_burst * 4
        ),
        jwt_bearer_limiter=limiters.limiter(
            "authz:jwt-bearer",
            settings.jwt_bearer_rate_per_second,
            settings.jwt_bearer_rate_burst,
        ),
        assertion_limiter=limiters.limiter(
            "authz:assertion", settings.assertion_rate_per_second, settings.assertion_rate_burst
        ),
        backend=_backend(settings, vault, bearers, issuer),
    )
    app = service_app(
        name="authz_api",
        routes=ROUTES,
        exception_handlers=EXCEPTION_HANDLERS,
        services=provide({"token_service": service, "bearers": bearers}, overrides),
        threads=THREADS,
        max_body=MAX_BODY_BYTES,
        openapi=openapi_config(settings.docs_assets),
    )
    app.on_shutdown.append(limiters.aclose)
    listen_for_account_changes(app, settings, verifier)
    return app
