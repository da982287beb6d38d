"""The Keycloak stack of the tests: the stand-in (tests/support/keycloak_standin.py: NOT
Keycloak) with the repo's realm, both APIs over real HTTP, and an admin provisioner."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from shared import Settings
from shared.keycloak import KeycloakProvisioner, KeycloakRealm, admin_client, admin_credentials
from tests.support.authz import Authz
from tests.support.crypto import Crypto
from tests.support.keycloak_standin import KeycloakStandIn
from tests.support.tokens import sign

REALM_JSON = Path(__file__).resolve().parents[2] / "deploy" / "keycloak" / "realm.json"
REALM = "secure-token"


def realm_document(authz_url: str) -> dict[str, Any]:
    """deploy/keycloak/realm.json with the compose addresses of the Authorization API
    replaced by the test's (the broker's JWKS, the identity provider's issuer and keys)."""
    document: dict[str, Any] = json.loads(REALM_JSON.read_text("utf-8"))
    jwks = f"{authz_url}/.well-known/jwks.json"
    for client in document["clients"]:
        if client["attributes"].get("use.jwks.url") == "true":
            client["attributes"]["jwks.url"] = jwks
    for idp in document["identityProviders"]:
        idp["config"].update(issuer=authz_url, jwksUrl=jwks)
    return document


@dataclass
class Stack:
    """A stand-in Keycloak with the repo's realm, an Authorization API issuing through it,
    a Crypto API trusting it and our own issuer, and an admin provisioner."""

    kc: KeycloakStandIn
    settings: Settings
    authz: Authz
    crypto: Crypto
    provisioner: KeycloakProvisioner

    @property
    def realm(self) -> KeycloakRealm:
        return self.provisioner.realm

    def client_assertion(
        self, account_id: str, alg: str, key: Any, *, aud: str | None = None, **claims: Any
    ) -> str:
        """A customer's client assertion for the realm (``aud``: its token endpoint)."""
        now = int(time.time())
        kid = claims.pop("kid", None)
        body = {
            "iss": account_id,
            "sub": account_id,
            "aud": aud or self.realm.token_endpoint,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return sign(
            {k: v for k, v in body.items() if v is not None},
            alg,
            key,
            **({"kid": kid} if kid else {}),
        )


def keycloak_settings(base: Settings, kc: KeycloakStandIn, **overrides: Any) -> Settings:
    return msgspec.structs.replace(
        base,
        keycloak_url=kc.url,
        keycloak_realm=REALM,
        keycloak_admin_username=kc.admin[0],
        keycloak_admin_password=kc.admin[1],
        authz_single_instance=True,
        rate_limit_per_second=0.0,
        jwt_bearer_rate_per_second=0.0,
        assertion_rate_per_second=0.0,
        crypto_rate_per_second=0.0,
        crypto_batch_rate_per_second=0.0,
        **overrides,
    )


def provisioner_for(settings: Settings) -> KeycloakProvisioner:
    realm = KeycloakRealm.from_settings(settings)
    credentials = admin_credentials(settings)
    assert credentials is not None
    return KeycloakProvisioner(realm, admin_client(realm, credentials), audience="crypto-api")
