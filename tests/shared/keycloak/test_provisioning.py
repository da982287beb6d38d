"""Mirroring accounts into a realm of the Keycloak stand-in (python-keycloak's KeycloakAdmin
over real HTTP; the stand-in's state is what a Keycloak would hold)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared import Account, AccountInvalid, AccountStore, JwksValidation, SymmetricValidation
from shared.keycloak import (
    KeycloakConflict,
    KeycloakProvisioner,
    KeycloakRealm,
    KeycloakRefused,
    KeycloakUnavailable,
    admin_client,
    key_id,
)
from shared.keycloak._realm import AdminCredentials
from tests.support.jwks_server import JwksServer
from tests.support.keycloak import REALM, Stack
from tests.support.openbao import free_port
from tests.support.tokens import pem


def client_of(stack: Stack, account_id: str) -> dict[str, Any]:
    """The realm's client for ``account_id``, as the stand-in holds it."""
    client = stack.kc.realms[REALM].client_by_client_id(account_id)
    assert client is not None
    return client


def scope_names(stack: Stack, client: dict[str, Any]) -> set[str]:
    scopes = stack.kc.realms[REALM].scopes
    return {scopes[s]["name"] for s in client["defaultScopeIds"]}


def user_of(stack: Stack, account_id: str) -> dict[str, Any]:
    user = stack.kc.realms[REALM].user_named(account_id)
    assert user is not None
    return user


def assert_common(stack: Stack, client: dict[str, Any], alg: str) -> None:
    """What every account's client has: confidential, service account only, the pinned
    algorithm, RFC 9068 tokens, the audience mapper and the token:encrypt scope."""
    assert client["enabled"] is True
    assert client["publicClient"] is False
    assert client["serviceAccountsEnabled"] is True
    assert client["standardFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    assert client["implicitFlowEnabled"] is False
    assert client["attributes"]["token.endpoint.auth.signing.alg"] == alg
    assert client["attributes"]["access.token.header.type.rfc9068"] == "true"
    (mapper,) = client["protocolMappers"]
    assert mapper["protocolMapper"] == "oidc-audience-mapper"
    assert mapper["config"]["included.custom.audience"] == "crypto-api"
    assert mapper["config"]["access.token.claim"] == "true"
    assert "token:encrypt" in scope_names(stack, client)


def test_public_key_account_is_a_client_jwt_client_with_its_key(
    stack: Stack, make_account: Callable[..., Account]
) -> None:
    """A public-key account becomes a client-jwt client whose certificate holds the
    account's key (no JWKS URL), and gets a user linked to the Authorization API's
    identity provider."""
    account = make_account("public_key", algorithms=("ES256",), key="ec-p256")
    result = stack.provisioner.sync(account)
    assert "created the client" in result.actions
    client = client_of(stack, account.id)
    assert client["clientAuthenticatorType"] == "client-jwt"
    assert_common(stack, client, "ES256")
    assert client["attributes"]["use.jwks.url"] == "false"
    assert "jwks.url" not in client["attributes"]
    certificate = x509.load_der_x509_certificate(
        base64.b64decode(client["attributes"]["jwt.credential.certificate"])
    )
    held = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert held.decode() == pem("ec-p256")
    user = user_of(stack, account.id)
    assert user["enabled"] is True
    assert user["federatedIdentities"] == [
        {"identityProvider": "secure-token-authz", "userId": account.id, "userName": account.id}
    ]
    assert stack.provisioner.inspect(account).kid == key_id(pem("ec-p256"))


def test_jwks_account_is_a_client_jwt_client_with_its_jwks_url(
    stack: Stack, make_account: Callable[..., Account], jwks_server: JwksServer
) -> None:
    """A JWKS account's client fetches the customer's keys from its URL (use.jwks.url)."""
    account = make_account("jwks", algorithms=("RS256",), jwks_uri=jwks_server.url)
    stack.provisioner.sync(account)
    client = client_of(stack, account.id)
    assert client["clientAuthenticatorType"] == "client-jwt"
    assert_common(stack, client, "RS256")
    assert client["attributes"]["use.jwks.url"] == "true"
    assert client["attributes"]["jwks.url"] == jwks_server.url
    assert "jwt.credential.certificate" not in client["attributes"]


def test_symmetric_account_is_a_client_secret_jwt_client_with_its_secret(
    stack: Stack, make_account: Callable[..., Account]
) -> None:
    """A symmetric account's client checks client_secret_jwt with the account's secret."""
    secret = secrets.token_urlsafe(48).encode()
    account = make_account("symmetric", algorithms=("HS256",), secret=secret)
    stack.provisioner.sync(account)
    client = client_of(stack, account.id)
    assert client["clientAuthenticatorType"] == "client-secret-jwt"
    assert client["secret"] == secret.decode()
    assert_common(stack, client, "HS256")
    assert client["attributes"]["use.jwks.url"] == "false"


def test_sync_is_idempotent(stack: Stack, make_account: Callable[..., Account]) -> None:
    """A second sync changes nothing (no write reaches Keycloak) and the copy is in sync."""
    account = make_account("public_key", algorithms=("ES256",))
    stack.provisioner.sync(account)
    before = len(stack.kc.requests)
    assert stack.provisioner.sync(account).actions == ()
    writes = [r for r in stack.kc.requests[before:] if r[0] != "GET" and "/admin/" in r[1]]
    assert writes == []
    assert stack.provisioner.inspect(account).in_sync


def test_drift_is_reported_then_repaired(
    stack: Stack, make_account: Callable[..., Account]
) -> None:
    """Changes made in Keycloak behind Vault's back are reported (secret values never
    shown), and the next sync puts the account's truth back."""
    secret = secrets.token_urlsafe(48).encode()
    account = make_account("symmetric", algorithms=("HS256",), secret=secret)
    stack.provisioner.sync(account)
    client = client_of(stack, account.id)
    client["secret"] = "changed-in-the-admin-console"
    client["attributes"]["token.endpoint.auth.signing.alg"] = "HS512"
    client["protocolMappers"].clear()
    client["serviceAccountsEnabled"] = False
    inspection = stack.provisioner.inspect(account)
    assert not inspection.in_sync
    text = "\n".join(inspection.drift)
    assert "secret: Keycloak's differs" in text
    assert "changed-in-the-admin-console" not in text
    assert "token.endpoint.auth.signing.alg" in text
    assert "secure-token-audience: missing" in text
    assert "serviceAccountsEnabled" in text
    stack.provisioner.sync(account)
    assert stack.provisioner.inspect(account).in_sync
    assert client_of(stack, account.id)["secret"] == secret.decode()


def test_a_new_key_or_method_replaces_the_old_credential(
    stack: Stack,
    make_account: Callable[..., Account],
    store: AccountStore,
    jwks_server: JwksServer,
) -> None:
    """A rotated public key shows as drift and is replaced; switching to JWKS removes the
    certificate and turns the JWKS URL on."""
    account = make_account("public_key", algorithms=("ES256",), key="ec-p256")
    stack.provisioner.sync(account)
    rotated = store.update(
        msgspec.structs.replace(
            account,
            validation=msgspec.structs.replace(
                account.validation, public_key_pem=pem("ec-p256-other")
            ),
        )
    )
    assert any("jwt.credential.certificate" in d for d in stack.provisioner.inspect(rotated).drift)
    stack.provisioner.sync(rotated)
    assert stack.provisioner.inspect(rotated).kid == key_id(pem("ec-p256-other"))
    assert stack.provisioner.inspect(rotated).in_sync
    switched = store.update(
        msgspec.structs.replace(
            rotated, validation=JwksValidation(algorithms=("ES256",), jwks_uri=jwks_server.url)
        )
    )
    stack.provisioner.sync(switched)
    attributes = client_of(stack, account.id)["attributes"]
    assert "jwt.credential.certificate" not in attributes
    assert attributes["use.jwks.url"] == "true"
    assert stack.provisioner.inspect(switched).in_sync


def test_disabling_disables_client_and_user(
    stack: Stack, make_account: Callable[..., Account], store: AccountStore
) -> None:
    """A disabled account's client and user are disabled in the realm."""
    account = make_account("public_key", algorithms=("ES256",))
    stack.provisioner.sync(account)
    result = stack.provisioner.sync(store.disable(account.id))
    assert "disabled the user" in result.actions
    assert client_of(stack, account.id)["enabled"] is False
    assert user_of(stack, account.id)["enabled"] is False


def test_a_client_we_did_not_create_is_never_taken_over(
    stack: Stack, make_account: Callable[..., Account]
) -> None:
    """A client of the account's name without our marker is refused, and left as it was."""
    account = make_account("public_key", algorithms=("ES256",))
    stack.kc.realms[REALM].add_client({"clientId": account.id, "description": "someone's app"})
    with pytest.raises(KeycloakConflict, match="did not create"):
        stack.provisioner.sync(account)
    assert client_of(stack, account.id)["description"] == "someone's app"


def test_a_secret_keycloak_cannot_hold_is_refused(stack: Stack, account_id: str) -> None:
    """Keycloak keeps client secrets as text: a non-UTF-8 secret cannot be mirrored."""
    account = Account(
        id=account_id,
        validation=SymmetricValidation(algorithms=("HS256",), secret=b"\xff" * 64),
    )
    with pytest.raises(AccountInvalid, match="UTF-8"):
        stack.provisioner.sync(account)


def test_keycloak_errors_are_mapped(stack: Stack, make_account: Callable[..., Account]) -> None:
    """A refused admin login is KeycloakRefused (401); an unreachable Keycloak is
    KeycloakUnavailable."""
    account = make_account("public_key", algorithms=("ES256",))
    realm = stack.realm
    wrong = AdminCredentials(realm="master", username="admin", password="wrong")
    refused = KeycloakProvisioner(realm, admin_client(realm, wrong), audience="crypto-api")
    with pytest.raises(KeycloakRefused) as info:
        refused.sync(account)
    assert info.value.status == 401
    assert info.value.error == "invalid_grant"
    nowhere = msgspec.structs.replace(realm, url=f"http://127.0.0.1:{free_port()}")
    creds = AdminCredentials(realm="master", username="admin", password=stack.kc.admin[1])
    down = KeycloakProvisioner(nowhere, admin_client(nowhere, creds), audience="crypto-api")
    with pytest.raises(KeycloakUnavailable):
        down.sync(account)


def test_the_realm_must_have_the_broker(stack: Stack, make_account: Callable[..., Account]) -> None:
    """Without the broker client (deploy/keycloak/realm.json), provisioning says so."""
    account = make_account("public_key", algorithms=("ES256",))
    realm = KeycloakRealm(
        url=stack.kc.url,
        realm=REALM,
        issuer=stack.kc.issuer(REALM),
        broker_client_id="no-such-broker",
    )
    creds = AdminCredentials(realm="master", username="admin", password=stack.kc.admin[1])
    provisioner = KeycloakProvisioner(realm, admin_client(realm, creds), audience="crypto-api")
    with pytest.raises(KeycloakConflict, match="no-such-broker"):
        provisioner.sync(account)


def test_admin_login_with_a_service_account_client(
    stack: Stack, make_account: Callable[..., Account]
) -> None:
    """tokenctl may log in as a confidential client of the realm (client credentials with
    its secret: KEYCLOAK_ADMIN_CLIENT_ID/SECRET, KEYCLOAK_ADMIN_REALM) instead of a user."""
    secret = secrets.token_urlsafe(24)
    stack.kc.realms[REALM].add_client(
        {"clientId": "tokenctl-admin", "serviceAccountsEnabled": True, "secret": secret}
    )
    stack.kc.admin_clients[(REALM, "tokenctl-admin")] = secret
    creds = AdminCredentials(realm=REALM, client_id="tokenctl-admin", client_secret=secret)
    provisioner = KeycloakProvisioner(
        stack.realm, admin_client(stack.realm, creds), audience="crypto-api"
    )
    account = make_account("public_key", algorithms=("ES256",))
    assert "created the client" in provisioner.sync(account).actions
    assert provisioner.inspect(account).in_sync
