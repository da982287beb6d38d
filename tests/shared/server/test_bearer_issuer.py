"""Bearers are RFC 9068 JWTs signed by Transit; the JWKS verifies them across rotation."""

from __future__ import annotations

import json
import time
from typing import Any

import hvac
from jwcrypto import jwk, jwt

from shared import Settings, Vault
from shared.server.bearer_issuer import BearerIssuer
from shared.vault.layout import AUTHZ_SIGNING_KEY


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def check_with_jwcrypto(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify with an independent implementation; returns header and claims."""
    keyset = jwk.JWKSet.from_json(json.dumps(jwks))
    parsed = jwt.JWT(jwt=token, key=keyset, algs=["ES256"], check_claims={"exp": None})
    return {"header": json.loads(parsed.header), "claims": json.loads(parsed.claims)}


def test_bearer_has_rfc9068_header_and_claims(vault: Vault) -> None:
    """A bearer is typ at+jwt, ES256 with kid, and carries iss, sub, client_id, aud, scope,
    iat, exp (lifetime later) and jti; jwcrypto verifies it with the JWKS."""
    issuer = BearerIssuer(vault, issuer="https://authz.test", audience="crypto-api", lifetime=300)
    bearer = issuer.issue("acme")
    checked = check_with_jwcrypto(bearer.access_token, issuer.jwks())
    header, claims = checked["header"], checked["claims"]
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": bearer.kid}
    assert claims["iss"] == "https://authz.test"
    assert claims["sub"] == claims["client_id"] == "acme"
    assert claims["aud"] == "crypto-api"
    assert claims["scope"] == "token:encrypt"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"] == bearer.jti
    assert bearer.expires_in == 300
    assert issuer.issue("acme").jti != bearer.jti


def test_rotation_keeps_old_key_until_its_bearers_expire(settings: Settings, vault: Vault) -> None:
    """After rotating authz-signing, bearers from before and after both verify with the JWKS;
    the old key leaves the JWKS once every bearer it signed has expired."""
    clock = Clock(time.time())
    issuer = BearerIssuer(
        vault, issuer="https://authz.test", audience="a", lifetime=300, clock=clock
    )
    before = issuer.issue("acme")
    hvac.Client(url=settings.vault_addr, token=settings.vault_token).secrets.transit.rotate_key(
        AUTHZ_SIGNING_KEY
    )
    issuer.signing_keys(fresh=True)
    after = issuer.issue("acme")
    assert after.kid != before.kid
    jwks = issuer.jwks()
    assert {k["kid"] for k in jwks["keys"]} >= {before.kid, after.kid}
    check_with_jwcrypto(before.access_token, jwks)
    check_with_jwcrypto(after.access_token, jwks)
    # An instance may have signed until cache_ttl after rotation, plus the window in which
    # an expired cache entry is still used while it is refreshed (the verification deadline).
    clock.now += 300 + 30 + vault.settings.verification_deadline + 59
    assert before.kid in {k["kid"] for k in issuer.jwks()["keys"]}
    clock.now += 2  # past lifetime + cache_ttl + window + leeway: every such bearer expired
    assert before.kid not in {k["kid"] for k in issuer.jwks()["keys"]}
    assert after.kid in {k["kid"] for k in issuer.jwks()["keys"]}
