"""The Crypto API's trust in a Keycloak realm's bearers (``CRYPTO_TRUSTED_ISSUERS``)."""

from __future__ import annotations

from typing import Final

from shared.keycloak._realm import KeycloakRealm
from shared.server.bearer_check import TrustedIssuer

__all__ = ["KEYCLOAK_ALGORITHMS", "keycloak_trusted_issuer"]

#: What a realm may sign access tokens with that our JWKS fetcher can check (RSA and EC
#: keys; Keycloak's default realm key is RS256).
KEYCLOAK_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")


def keycloak_trusted_issuer(realm: KeycloakRealm) -> TrustedIssuer:
    """The realm as a trusted issuer: its ``iss``, its certs endpoint
    (``/realms/{realm}/protocol/openid-connect/certs``), the account in ``azp``."""
    return TrustedIssuer(
        issuer=realm.issuer,
        jwks_url=realm.certs_url,
        algorithms=KEYCLOAK_ALGORITHMS,
        account_claim="azp",
        broker_client_id=realm.broker_client_id,
    )
