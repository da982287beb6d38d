"""The Authorization API with AUTHZ_BACKEND=keycloak: same /oauth/token contract, bearers
from the realm (the stand-in), and customers encrypt with them at the Crypto API."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from joserfc.jwk import RSAKey

from authz_api.app import create_app as create_authz
from shared import Account, Settings, TokenPolicy
from shared.keycloak import key_id
from tests.support.asgi_server import AsgiServer
from tests.support.authz import Authz, assert_oauth_error, serve
from tests.support.jwks_server import JwksServer
from tests.support.keycloak import REALM, Stack
from tests.support.openbao import free_port
from tests.support.tokens import claims, pem, private_key, sign, unb64


def payload(token: str) -> dict[str, Any]:
    return dict(json.loads(unb64(token.split(".")[1])))


def header(token: str) -> dict[str, Any]:
    return dict(json.loads(unb64(token.split(".", maxsplit=1)[0])))


def assert_keycloak_bearer(stack: Stack, response: httpx.Response) -> dict[str, Any]:
    """A token response of our contract, carrying an RFC 9068 bearer of the realm."""
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "token:encrypt"
    assert body["expires_in"] == 300
    token = body["access_token"]
    assert header(token)["typ"] == "at+jwt"
    claims_ = payload(token)
    assert claims_["iss"] == stack.kc.issuer(REALM)
    assert claims_["aud"] == "crypto-api"
    assert "token:encrypt" in claims_["scope"].split()
    return claims_


@pytest.fixture
def jwks_account(
    stack: Stack, make_account: Callable[..., Account], jwks_server: JwksServer
) -> tuple[Account, RSAKey]:
    """A JWKS account (RS256, kid k1) mirrored into the realm."""
    key = private_key("rsa-2048")
    assert isinstance(key, RSAKey)
    jwks_server.document = {"keys": [{**key.as_dict(private=False), "kid": "k1", "use": "sig"}]}
    account = make_account(
        "jwks", algorithms=("RS256",), jwks_uri=jwks_server.url, id=f"j-{uuid.uuid4().hex[:12]}"
    )
    stack.provisioner.sync(account)
    return account, key


@pytest.fixture
def ec_account(stack: Stack, make_account: Callable[..., Account]) -> Account:
    """A public-key account (ES256) mirrored into the realm."""
    account = make_account(
        "public_key", algorithms=("ES256",), key="ec-p256", id=f"e-{uuid.uuid4().hex[:12]}"
    )
    stack.provisioner.sync(account)
    return account


@pytest.fixture
def hs_account(stack: Stack, make_account: Callable[..., Account]) -> tuple[Account, bytes]:
    """A symmetric account (HS256) mirrored into the realm."""
    secret = secrets.token_urlsafe(48).encode()
    account = make_account(
        "symmetric", algorithms=("HS256",), secret=secret, id=f"h-{uuid.uuid4().hex[:12]}"
    )
    stack.provisioner.sync(account)
    return account, secret


def test_client_assertions_pass_through_for_each_method(
    stack: Stack,
    ec_account: Account,
    jwks_account: tuple[Account, RSAKey],
    hs_account: tuple[Account, bytes],
) -> None:
    """private_key_jwt (certificate key, with or without its kid; JWKS URL) and
    client_secret_jwt reach Keycloak, which issues a bearer of the account's client."""
    cases = [
        (ec_account.id, stack.client_assertion(ec_account.id, "ES256", "ec-p256")),
        (
            ec_account.id,
            stack.client_assertion(ec_account.id, "ES256", "ec-p256", kid=key_id(pem("ec-p256"))),
        ),
        (
            jwks_account[0].id,
            stack.client_assertion(jwks_account[0].id, "RS256", jwks_account[1], kid="k1"),
        ),
        (hs_account[0].id, stack.client_assertion(hs_account[0].id, "HS256", hs_account[1])),
    ]
    for account_id, assertion in cases:
        before = len(stack.kc.requests)
        issued = assert_keycloak_bearer(stack, stack.authz.client_credentials(assertion))
        assert issued["azp"] == issued["client_id"] == account_id
        assert ("POST", f"/realms/{REALM}/protocol/openid-connect/token") in stack.kc.requests[
            before:
        ]


def test_secure_token_is_exchanged_through_the_broker(
    stack: Stack, ec_account: Account, hs_account: tuple[Account, bytes]
) -> None:
    """A verified secure token becomes a bearer of the broker client for the account's
    user (Keycloak's JWT Authorization Grant)."""
    for account_id, alg, key in (
        (ec_account.id, "ES256", "ec-p256"),
        (hs_account[0].id, "HS256", hs_account[1]),
    ):
        response = stack.authz.jwt_bearer(account_id, sign(claims(), alg, key))
        issued = assert_keycloak_bearer(stack, response)
        assert issued["azp"] == "secure-token-broker"
        assert issued["preferred_username"] == account_id
        assert "client_id" not in issued


def test_customer_encrypts_with_keycloak_bearers(
    stack: Stack, ec_account: Account, hs_account: tuple[Account, bytes]
) -> None:
    """Bearers of both exchanges are accepted by the Crypto API for their own account."""
    token = sign(claims(), "ES256", "ec-p256")
    by_grant = stack.authz.jwt_bearer(ec_account.id, token).json()["access_token"]
    by_assertion = stack.authz.client_credentials(
        stack.client_assertion(ec_account.id, "ES256", "ec-p256")
    ).json()["access_token"]
    for bearer in (by_grant, by_assertion):
        response = stack.crypto.encrypt(bearer, token)
        assert response.status_code == 200, response.text
        assert response.json()["token"].count(".") == 4
        assert response.json()["kid"].startswith(f"{ec_account.id}/")
    # A bearer names its account: another account's token is checked as this one's.
    other = stack.crypto.encrypt(by_grant, sign(claims(), "HS256", hs_account[1]))
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "TOKEN_INVALID_SIGNATURE"


def _refusals(authz: Authz, client_assertion: Callable[..., str], account: Account) -> list[Any]:
    """The same bad requests, as a customer sends them, and what comes back."""
    good = client_assertion(account.id, "ES256", "ec-p256")
    authz.client_credentials(good)
    results = []
    for params in (
        {"grant_type": "client_credentials"},  # no assertion
        {"grant_type": "password"},
        {"grant_type": "client_credentials", "scope": "admin"},
    ):
        results.append(authz.token(**params))
    results.append(authz.client_credentials(good))  # replay
    results.append(
        authz.client_credentials(client_assertion(account.id, "ES256", "ec-p256-other"))
    )  # wrong key
    results.append(
        authz.client_credentials(client_assertion(account.id, "ES256", "ec-p256", exp=1))
    )
    results.append(authz.client_credentials(client_assertion("nobody", "ES256", "ec-p256")))
    results.append(authz.jwt_bearer(account.id, sign(claims(), "ES256", "ec-p256-other")))
    results.append(authz.jwt_bearer(account.id, sign(claims(exp=1), "ES256", "ec-p256")))
    results.append(authz.jwt_bearer(account.id, sign(claims(campaign=None), "ES256", "ec-p256")))
    return [
        (r.status_code, r.json()["error"], r.json().get("code"), r.headers["cache-control"])
        for r in results
    ]


def test_refusals_are_those_of_the_builtin_issuer(
    stack: Stack, ec_account: Account, settings: Settings
) -> None:
    """A customer cannot tell the backends apart by their refusals: the same bad requests
    get the same status, error and code from both."""
    keycloak = _refusals(stack.authz, stack.client_assertion, ec_account)
    with serve(settings, rate_limit_per_second=0.0) as builtin:

        def ours(account_id: str, alg: str, key: Any, **extra: Any) -> str:
            return builtin.client_assertion(account_id, alg, key, **extra)

        assert _refusals(builtin, ours, ec_account) == keycloak
    assert [r[2] for r in keycloak] == [
        None,
        None,
        None,
        "TOKEN_INVALID_CLAIMS",
        "TOKEN_INVALID_SIGNATURE",
        "TOKEN_EXPIRED",
        None,
        "TOKEN_INVALID_SIGNATURE",
        "TOKEN_EXPIRED",
        "TOKEN_INVALID_CLAIMS",
    ]


def test_client_assertions_name_the_realm(stack: Stack, ec_account: Account) -> None:
    """Keycloak checks the aud of what we pass through: an assertion for our own token
    endpoint is refused, saying which audiences to use."""
    response = stack.authz.client_credentials(
        stack.client_assertion(ec_account.id, "ES256", "ec-p256", aud=stack.authz.token_endpoint)
    )
    body = assert_oauth_error(response, 401, "invalid_client", "TOKEN_INVALID_CLAIMS")
    assert stack.realm.token_endpoint in body["error_description"]


def test_keycloak_refusals_come_back_as_ours(stack: Stack, ec_account: Account) -> None:
    """What only Keycloak checks (here: the algorithm it pins for the client) is refused
    with our error shape and code."""
    client = stack.kc.realms[REALM].client_by_client_id(ec_account.id)
    assert client is not None
    client["attributes"]["token.endpoint.auth.signing.alg"] = "ES384"
    try:
        response = stack.authz.client_credentials(
            stack.client_assertion(ec_account.id, "ES256", "ec-p256")
        )
    finally:
        client["attributes"]["token.endpoint.auth.signing.alg"] = "ES256"
    body = assert_oauth_error(response, 401, "invalid_client", "TOKEN_INVALID_SIGNATURE")
    assert "Invalid signature algorithm" in body["error_description"]


def test_accounts_missing_from_the_realm(
    stack: Stack, make_account: Callable[..., Account]
) -> None:
    """An account in Vault but not in the realm: its client assertions are refused as an
    unknown client; a secure token cannot be exchanged (503: the operator must mirror it)."""
    account = make_account("public_key", algorithms=("ES256",))
    response = stack.authz.client_credentials(
        stack.client_assertion(account.id, "ES256", "ec-p256")
    )
    assert_oauth_error(response, 401, "invalid_client")
    response = stack.authz.jwt_bearer(account.id, sign(claims(), "ES256", "ec-p256"))
    body = assert_oauth_error(response, 503, "temporarily_unavailable", "KEYCLOAK_MISCONFIGURED")
    assert "User not found" in body["error_description"]
    assert response.headers["retry-after"] == "5"


def _no_mappers(client: dict[str, Any]) -> Callable[[], None]:
    mappers = list(client["protocolMappers"])
    client["protocolMappers"].clear()
    return lambda: client["protocolMappers"].extend(mappers)


def _no_rfc9068(client: dict[str, Any]) -> Callable[[], None]:
    client["attributes"]["access.token.header.type.rfc9068"] = "false"
    return lambda: client["attributes"].update({"access.token.header.type.rfc9068": "true"})


@pytest.mark.parametrize(
    ("break_it", "said"),
    [(_no_mappers, "crypto-api"), (_no_rfc9068, "rfc9068")],
    ids=["no-audience", "not-at+jwt"],
)
def test_a_realm_set_up_wrong_hands_out_nothing(
    stack: Stack,
    ec_account: Account,
    break_it: Callable[[dict[str, Any]], Callable[[], None]],
    said: str,
) -> None:
    """If the realm issues a bearer the Crypto API would refuse (no audience, not an
    RFC 9068 token), the customer gets a 503 naming the problem, not a useless bearer."""
    client = stack.kc.realms[REALM].client_by_client_id(ec_account.id)
    assert client is not None
    repair = break_it(client)
    try:
        response = stack.authz.client_credentials(
            stack.client_assertion(ec_account.id, "ES256", "ec-p256")
        )
    finally:
        repair()
    body = assert_oauth_error(response, 503, "temporarily_unavailable", "KEYCLOAK_MISCONFIGURED")
    assert said in body["error_description"]


@pytest.fixture
def authz_without_keycloak(stack: Stack) -> Iterator[Authz]:
    """An Authorization API whose Keycloak does not answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    dead = msgspec.structs.replace(
        stack.settings,
        authz_backend="keycloak",
        authz_issuer=url,
        keycloak_url=f"http://127.0.0.1:{free_port()}",
        keycloak_issuer=stack.kc.issuer(REALM),
        keycloak_timeout=1.0,
    )
    with AsgiServer(create_authz(dead), port=port):
        client = Authz(url)
        yield client
        client.http.close()


def test_keycloak_down_is_a_retryable_503(
    stack: Stack, ec_account: Account, authz_without_keycloak: Authz
) -> None:
    """Keycloak unreachable: 503 temporarily_unavailable with Retry-After, and the client
    assertion is not spent (the customer may retry it)."""
    assertion = stack.client_assertion(ec_account.id, "ES256", "ec-p256")
    for _ in range(2):  # the same assertion: its jti was released
        response = authz_without_keycloak.client_credentials(assertion)
        assert_oauth_error(response, 503, "temporarily_unavailable", "KEYCLOAK_UNAVAILABLE")
        assert response.headers["retry-after"] == "5"
    response = authz_without_keycloak.jwt_bearer(ec_account.id, sign(claims(), "ES256", "ec-p256"))
    assert_oauth_error(response, 503, "temporarily_unavailable", "KEYCLOAK_UNAVAILABLE")


def test_jwt_bearer_policy_applies_before_keycloak(
    stack: Stack, make_account: Callable[..., Account]
) -> None:
    """With the Keycloak backend an account's jwt-bearer policy refuses as with ours
    (disabled: unauthorized_client; require_aud: a token without aud is invalid_grant), and a
    token whose aud names us still gets a Keycloak bearer."""
    disabled = make_account(
        algorithms=("ES256",), id=f"d-{uuid.uuid4().hex[:12]}",
        policy=TokenPolicy(jwt_bearer="disabled"),
    )  # fmt: skip
    strict = make_account(
        algorithms=("ES256",), id=f"r-{uuid.uuid4().hex[:12]}",
        policy=TokenPolicy(jwt_bearer="require_aud"),
    )  # fmt: skip
    for account in (disabled, strict):
        stack.provisioner.sync(account)
    token = sign(claims(), "ES256", "ec-p256")
    assert_oauth_error(stack.authz.jwt_bearer(disabled.id, token), 400, "unauthorized_client")
    assert_oauth_error(
        stack.authz.jwt_bearer(strict.id, token), 400, "invalid_grant", "TOKEN_INVALID_CLAIMS"
    )
    addressed = sign(claims(aud=stack.authz.token_endpoint), "ES256", "ec-p256")
    assert_keycloak_bearer(stack, stack.authz.jwt_bearer(strict.id, addressed))
