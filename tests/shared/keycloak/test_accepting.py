"""The Crypto API trusting a Keycloak realm (CRYPTO_TRUSTED_ISSUERS): the realm's bearers
pass, bearers of another realm or for another audience do not, ours still do."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from joserfc import jws

from crypto_api.app import create_app as create_crypto
from shared import Account, Settings
from shared.keycloak import keycloak_trusted_issuer
from shared.server.bearer_check import BearerChecker, BearerInvalid
from tests.support.asgi_server import AsgiServer
from tests.support.authz import serve
from tests.support.crypto import Crypto, assert_problem
from tests.support.keycloak import REALM, Stack, realm_document
from tests.support.keycloak_standin import KeycloakStandIn
from tests.support.openbao import free_port
from tests.support.tokens import claims, sign


@pytest.fixture
def account(stack: Stack, make_account: Callable[..., Account]) -> Account:
    account = make_account("public_key", algorithms=("ES256",), key="ec-p256")
    stack.provisioner.sync(account)
    return account


def keycloak_bearer(stack: Stack, account: Account, **overrides: Any) -> str:
    response = stack.authz.client_credentials(
        stack.client_assertion(account.id, "ES256", "ec-p256", **overrides)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_a_bearer_of_another_realm_is_refused(stack: Stack, account: Account) -> None:
    """Same Keycloak, same client set-up, another realm: its bearers name another issuer
    and are signed by another realm key, so the Crypto API refuses them."""
    other = realm_document(stack.authz.url)
    other["realm"] = "elsewhere"
    realm = stack.kc.import_realm(other)
    client = stack.kc.realms[REALM].client_by_client_id(account.id)
    assert client is not None
    cid = realm.add_client({k: v for k, v in client.items() if k not in ("id", "defaultScopeIds")})
    scope = realm.add_scope({"name": "token:encrypt", "protocol": "openid-connect"})
    realm.clients[cid]["defaultScopeIds"].append(scope)
    response = stack.authz.http.post(
        f"{stack.kc.url}/realms/elsewhere/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": stack.client_assertion(
                account.id, "ES256", "ec-p256", aud=stack.kc.issuer("elsewhere")
            ),
        },
    )
    assert response.status_code == 200, response.text
    bearer = response.json()["access_token"]
    refused = stack.crypto.encrypt(bearer, sign(claims(), "ES256", "ec-p256"))
    assert_problem(refused, 401, "BEARER_INVALID")


def test_a_bearer_for_another_audience_is_refused(stack: Stack, account: Account) -> None:
    """A realm bearer whose audience mapper names another API is refused."""
    client = stack.kc.realms[REALM].client_by_client_id(account.id)
    assert client is not None
    (mapper,) = client["protocolMappers"]
    mapper["config"]["included.custom.audience"] = "billing-api"
    try:
        response = stack.authz.http.post(
            f"{stack.kc.url}/realms/{REALM}/protocol/openid-connect/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": stack.client_assertion(account.id, "ES256", "ec-p256"),
            },
        )
    finally:
        mapper["config"]["included.custom.audience"] = "crypto-api"
    bearer = response.json()["access_token"]
    refused = stack.crypto.encrypt(bearer, sign(claims(), "ES256", "ec-p256"))
    body = assert_problem(refused, 401, "BEARER_INVALID")
    assert "audience" in body["detail"]


def test_our_own_bearers_are_still_accepted(
    stack: Stack, account: Account, settings: Settings
) -> None:
    """Trusting both issuers, the Crypto API still takes the built-in issuer's bearers."""
    with serve(settings, rate_limit_per_second=0.0, authz_issuer=stack.authz.url) as builtin:
        response = builtin.jwt_bearer(account.id, sign(claims(), "ES256", "ec-p256"))
        bearer = response.json()["access_token"]
        assert json.loads(jws.extract_compact(bearer.encode()).payload)["iss"] == stack.authz.url
        token = sign(claims(), "ES256", "ec-p256")
        assert stack.crypto.encrypt(bearer, token).status_code == 200


@pytest.fixture
def keycloak_only(stack: Stack) -> Iterator[Crypto]:
    """A Crypto API that trusts the realm alone (no AUTHZ_ISSUER needed)."""
    port = free_port()
    only = msgspec.structs.replace(
        stack.settings, crypto_trusted_issuers="keycloak", authz_issuer=None, authz_jwks_url=None
    )
    with AsgiServer(create_crypto(only), port=port):
        client = Crypto(f"http://127.0.0.1:{port}", stack.authz)
        yield client
        client.http.close()


def test_keycloak_instead_of_ours(
    stack: Stack, account: Account, settings: Settings, keycloak_only: Crypto
) -> None:
    """With CRYPTO_TRUSTED_ISSUERS=keycloak, realm bearers pass and ours are refused."""
    token = sign(claims(), "ES256", "ec-p256")
    assert keycloak_only.encrypt(keycloak_bearer(stack, account), token).status_code == 200
    with serve(settings, rate_limit_per_second=0.0, authz_issuer=stack.authz.url) as builtin:
        ours = builtin.jwt_bearer(account.id, token).json()["access_token"]
    assert_problem(keycloak_only.encrypt(ours, token), 401, "BEARER_INVALID")
    assert keycloak_only.http.get("/health/ready").status_code == 200


def test_a_realm_bearer_without_rfc9068_typ_is_refused(stack: Stack, account: Account) -> None:
    """A client whose tokens are plain JWTs (the RFC 9068 attribute off) gets bearers the
    Crypto API refuses: an access token must say typ at+jwt."""
    client = stack.kc.realms[REALM].client_by_client_id(account.id)
    assert client is not None
    client["attributes"]["access.token.header.type.rfc9068"] = "false"
    try:
        response = stack.authz.http.post(
            f"{stack.kc.url}/realms/{REALM}/protocol/openid-connect/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": stack.client_assertion(account.id, "ES256", "ec-p256"),
            },
        )
    finally:
        client["attributes"]["access.token.header.type.rfc9068"] = "true"
    bearer = response.json()["access_token"]
    body = assert_problem(
        stack.crypto.encrypt(bearer, sign(claims(), "ES256", "ec-p256")), 401, "BEARER_INVALID"
    )
    assert "at+jwt" in body["detail"]


# --- who the account is, in a realm bearer ----------------------------------------------


def _signed(kc: KeycloakStandIn, **claims_: Any) -> str:
    """A bearer signed by the realm's own key, with the claims given."""
    realm = kc.realms[REALM]
    now = int(time.time())
    body = {
        "iss": kc.issuer(REALM),
        "aud": "crypto-api",
        "scope": "token:encrypt",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **claims_,
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": kc.kid(realm.key)}
    return jws.serialize_compact(
        header, json.dumps({k: v for k, v in body.items() if v is not None}), realm.key
    )


@pytest.mark.parametrize(
    ("claims_", "account_id"),
    [
        ({"azp": "acme", "client_id": "acme"}, "acme"),
        ({"azp": "acme"}, "acme"),
        ({"azp": "secure-token-broker", "preferred_username": "acme"}, "acme"),
        ({"azp": "acme", "client_id": "other"}, None),
        ({"azp": "Not An Id"}, None),
        ({"client_id": "acme"}, None),
        ({"azp": "secure-token-broker"}, None),
        (
            {
                "azp": "secure-token-broker",
                "preferred_username": "service-account-secure-token-broker",
            },
            None,
        ),
        (
            {"azp": "secure-token-broker", "preferred_username": "acme", "client_id": "x"},
            None,
        ),
    ],
    ids=[
        "service-account",
        "azp-only",
        "broker-exchange",
        "client-id-mismatch",
        "malformed-azp",
        "no-azp",
        "broker-without-user",
        "broker-service-account",
        "broker-with-client-id",
    ],
)
def test_the_account_of_a_realm_bearer(
    stack: Stack, claims_: dict[str, Any], account_id: str | None
) -> None:
    """azp (= client_id when present) names the account; for the broker's exchanges, its
    user does; a service-account user of the broker never does."""
    checker = BearerChecker(
        None, issuer=None, audience="crypto-api", trusted=[keycloak_trusted_issuer(stack.realm)]
    )
    authorization = f"Bearer {_signed(stack.kc, **claims_)}"
    if account_id is None:
        with pytest.raises(BearerInvalid, match="valid account"):
            checker.check(authorization)
    else:
        assert checker.check(authorization).account_id == account_id
