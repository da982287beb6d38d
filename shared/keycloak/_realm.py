"""Where the realm is, and the URLs Keycloak derives from it.

Two base URLs may differ: the one *we* reach Keycloak at (``KEYCLOAK_URL``, e.g. a service
name inside a container network) and the one Keycloak puts in ``iss`` (its public hostname,
``KEYCLOAK_ISSUER``). Keycloak checks client assertions' ``aud`` against the latter
(``JWTClientValidator.getExpectedAudiences``: the realm issuer or its token endpoint).
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from shared.errors import ConfigurationError
from shared.redaction import Redacted
from shared.settings import Settings

__all__ = ["AdminCredentials", "KeycloakRealm", "admin_credentials"]

#: Realm names as they appear in a URL path segment (we refuse anything to escape).
_REALM_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
#: Keycloak's OIDC paths under a realm (python-keycloak ``urls_patterns``: URL_TOKEN,
#: URL_CERTS; Keycloak ``OIDCLoginProtocolService``).
TOKEN_PATH: Final = "/protocol/openid-connect/token"  # noqa: S105 - a URL path
CERTS_PATH: Final = "/protocol/openid-connect/certs"


class AdminCredentials(Redacted, frozen=True):
    """tokenctl's admin login: a client (client credentials) or a user (password), in
    ``realm`` (``master`` for Keycloak's bootstrap admin)."""

    __secret_fields__ = frozenset({"client_secret", "password"})

    realm: str
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None


class KeycloakRealm(msgspec.Struct, frozen=True, kw_only=True):
    """One realm of one Keycloak, and how we talk to it."""

    #: Base URL we reach Keycloak at.
    url: str
    realm: str
    #: The realm's ``iss`` as Keycloak writes it.
    issuer: str
    #: CA bundle to check Keycloak's TLS certificate with (None: the system's).
    cacert: str | None = None
    timeout: float = 5.0
    broker_client_id: str = "secure-token-broker"
    idp_alias: str = "secure-token-authz"

    @classmethod
    def from_settings(cls, settings: Settings) -> KeycloakRealm:
        """The realm of ``KEYCLOAK_URL`` / ``KEYCLOAK_REALM`` (/ ``KEYCLOAK_ISSUER``).

        Raises:
            ConfigurationError: they are not set, or the realm name is not a plain name.
        """
        issuer = settings.keycloak_realm_issuer
        if not settings.keycloak_url or not settings.keycloak_realm or not issuer:
            raise ConfigurationError("set KEYCLOAK_URL and KEYCLOAK_REALM")
        if not _REALM_NAME.fullmatch(settings.keycloak_realm):
            raise ConfigurationError(
                f"KEYCLOAK_REALM must be a plain realm name, got {settings.keycloak_realm!r}"
            )
        return cls(
            url=settings.keycloak_url.rstrip("/"),
            realm=settings.keycloak_realm,
            issuer=issuer,
            cacert=settings.keycloak_cacert,
            timeout=settings.keycloak_timeout,
            broker_client_id=settings.keycloak_broker_client_id,
            idp_alias=settings.keycloak_idp_alias,
        )

    @property
    def server_url(self) -> str:
        """The base URL for python-keycloak: it joins relative paths (``realms/...``) onto
        it with ``urljoin``, which drops a last path segment without a trailing slash."""
        return self.url + "/"

    @property
    def token_endpoint(self) -> str:
        """The realm's token endpoint as Keycloak names it (an assertion ``aud``)."""
        return self.issuer + TOKEN_PATH

    @property
    def certs_url(self) -> str:
        """The realm's JWKS, fetched at the URL we reach Keycloak at."""
        return f"{self.url}/realms/{self.realm}{CERTS_PATH}"

    @property
    def assertion_audiences(self) -> frozenset[str]:
        """What a client assertion's ``aud`` may name for Keycloak to accept it (the
        realm issuer or its token endpoint; Keycloak also takes its introspection, PAR and
        CIBA endpoints, which we do not advertise)."""
        return frozenset({self.issuer, self.token_endpoint})


def admin_credentials(settings: Settings) -> AdminCredentials | None:
    """tokenctl's admin login from ``KEYCLOAK_ADMIN_*``, or None when none is set."""
    if settings.keycloak_admin_client_id and settings.keycloak_admin_client_secret:
        return AdminCredentials(
            realm=settings.keycloak_admin_realm,
            client_id=settings.keycloak_admin_client_id,
            client_secret=settings.keycloak_admin_client_secret,
        )
    if settings.keycloak_admin_username and settings.keycloak_admin_password:
        return AdminCredentials(
            realm=settings.keycloak_admin_realm,
            username=settings.keycloak_admin_username,
            password=settings.keycloak_admin_password,
        )
    return None
