"""ASGI factory of the Crypto API (``crypto_api.app:create_app``).

The one assembly point: settings (read here, never at import), the shared service the
handlers receive by name, the routes, the error table, metrics and the access log.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Litestar

from crypto_api.errors import EXCEPTION_HANDLERS
from crypto_api.openapi import openapi_config
from crypto_api.routes import ROUTES, THREADS
from shared.accounts.keys import KeyStore
from shared.errors import ConfigurationError
from shared.keycloak import KeycloakRealm, keycloak_trusted_issuer
from shared.server.account_changes import listen_for_account_changes
from shared.server.bearer_check import BearerChecker
from shared.server.encrypt_service import EncryptService
from shared.settings import Settings
from shared.state.rate_limits import Limiters
from shared.tokens.compact import Limits
from shared.tokens.verification import Verifier
from shared.vault import Vault
from shared.web.dependencies import provide
from shared.web.service_app import service_app

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None, *, overrides: Mapping[str, object] | None = None
) -> Litestar:
    """Build the Crypto API; ``settings`` default to the environment.

    Handlers receive ``encrypt_service`` (:class:`EncryptService`); ``overrides`` may
    replace it (tests: a failing stand-in).

    Raises:
        KeyError: an override names another service.
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
    verifier = Verifier(vault, settings=settings)
    # With REDIS_URL every instance draws from one budget per account (and per address for
    # the key sets); while Redis is down, from a per-process bucket (docs/decisions.md).
    limiters = Limiters(settings.redis_url)
    service = EncryptService(
        verifier,
        KeyStore(vault),
        settings,
        bearers=BearerChecker(
            jwks_url if builtin else None,
            issuer=issuer if builtin else None,
            audience=settings.crypto_audience,
            trusted=realms,
        ),
        limiter=limiters.limiter(
            "crypto:account", settings.crypto_rate_per_second, settings.crypto_rate_burst
        ),
        batch_limiter=limiters.limiter(
            "crypto:batch",
            settings.crypto_batch_rate_per_second,
            settings.crypto_batch_rate_burst,
        ),
        jwks_limiter=limiters.limiter(
            "crypto:jwks", settings.crypto_jwks_rate_per_second, settings.crypto_jwks_rate_burst
        ),
    )
    # A batch of the largest tokens, with JSON overhead.
    max_body = settings.batch_max * (Limits().max_token_bytes + 16) + 1024
    app = service_app(
        name="crypto_api",
        routes=ROUTES,
        exception_handlers=EXCEPTION_HANDLERS,
        services=provide({"encrypt_service": service}, overrides),
        threads=THREADS,
        max_body=max_body,
        openapi=openapi_config(settings.docs_assets),
    )
    app.on_shutdown.append(limiters.aclose)
    listen_for_account_changes(app, settings, verifier)
    return app
