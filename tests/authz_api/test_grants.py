"""Both grants give a verifiable RFC 9068 bearer, for every validation method."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from jwcrypto import jwk, jwt

from shared import Account
from tests.support.authz import Authz
from tests.support.jwks_server import JwksServer
from tests.support.tokens import private_key

SECRET = secrets.token_bytes(32)


def verify_bearer(authz: Authz, bearer: str) -> dict[str, Any]:
    """Check a bearer with jwcrypto (independent of joserfc) against the published JWKS."""
    keyset = jwk.JWKSet.from_json(authz.http.get("/.well-known/jwks.json").text)
    parsed = jwt.JWT(jwt=bearer, key=keyset, algs=["ES256"])
    return {"header": json.loads(parsed.header), "claims": json.loads(parsed.claims)}


@pytest.fixture(params=["RS256", "ES256", "HS256", "JWKS-RS256"])
def customer(
    request: pytest.FixtureRequest, make_account: Callable[..., Account], jwks_server: JwksServer
) -> tuple[Account, str, Any, str | None]:
    """An account per validation method, with the key its customer signs with."""
    method = request.param
    if method == "RS256":
        return make_account(algorithms=("RS256",), key="rsa-2048"), "RS256", "rsa-2048", None
    if method == "ES256":
        return make_account(algorithms=("ES256",), key="ec-p256"), "ES256", "ec-p256", None
    if method == "HS256":
        return (
            make_account("symmetric", algorithms=("HS256",), secret=SECRET),
            "HS256",
            SECRET,
            None,
        )
    jwks_server.document = {
        "keys": [{**private_key("rsa-2048").as_dict(private=False), "kid": "k1", "use": "sig"}]
    }
    account = make_account("jwks", algorithms=("RS256",), jwks_uri=jwks_server.url)
    return account, "RS256", "rsa-2048", "k1"


def check_success(authz: Authz, response: Any, account: Account) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "token:encrypt"
    checked = verify_bearer(authz, body["access_token"])
    header, claims = checked["header"], checked["claims"]
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"]
    assert claims["iss"] == authz.url
    assert claims["sub"] == claims["client_id"] == account.id
    assert claims["aud"] == "crypto-api"
    assert claims["scope"] == "token:encrypt"
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["jti"]


def test_jwt_bearer_grant(authz: Authz, customer: tuple[Account, str, Any, str | None]) -> None:
    """A secure token signed with the account's method buys a bearer (RFC 7523 §2.1); the same
    token may be exchanged again while valid."""
    account, alg, key, kid = customer
    token = authz.secure_token(alg, key, kid=kid)
    check_success(authz, authz.jwt_bearer(account.id, token), account)
    check_success(authz, authz.jwt_bearer(account.id, token), account)


def test_client_credentials_grant(
    authz: Authz, customer: tuple[Account, str, Any, str | None]
) -> None:
    """A client assertion (private_key_jwt / client_secret_jwt) buys a bearer (RFC 7523
    §2.2), with or without client_id in the form."""
    account, alg, key, kid = customer
    check_success(
        authz,
        authz.client_credentials(authz.client_assertion(account.id, alg, key, kid=kid)),
        account,
    )
    assertion = authz.client_assertion(
        account.id, alg, key, kid=kid, aud=authz.url
    )  # issuer as aud
    check_success(authz, authz.client_credentials(assertion, client_id=account.id), account)


def test_metadata_and_jwks(authz: Authz) -> None:
    """RFC 8414 metadata names the endpoints, grants, auth methods, algorithms and scope."""
    meta = authz.http.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == authz.url
    assert meta["token_endpoint"] == authz.token_endpoint
    assert meta["jwks_uri"] == f"{authz.url}/.well-known/jwks.json"
    assert set(meta["grant_types_supported"]) == {
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_credentials",
    }
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "private_key_jwt",
        "client_secret_jwt",
    }
    assert "ES256" in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert "none" not in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert meta["scopes_supported"] == ["token:encrypt"]
    keys = authz.http.get("/.well-known/jwks.json").json()["keys"]
    assert keys
    assert all(k["kty"] == "EC" and k["alg"] == "ES256" and "d" not in k for k in keys)
