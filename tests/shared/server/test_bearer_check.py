"""The Crypto API's bearer check: real bearers (signed by Transit) against a real JWKS
endpoint; forged, re-signed, stale and out-of-scope ones are refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import hvac
import pytest

from shared import Settings, Vault
from shared.server.bearer_check import (
    BearerChecker,
    BearerInvalid,
    BearerMissing,
    BearerScopeMissing,
)
from shared.server.bearer_issuer import BearerIssuer
from shared.tokens.jwks import JwksFetcher
from shared.vault.layout import AUTHZ_SIGNING_KEY
from tests.support.jwks_server import JwksServer
from tests.support.tokens import b64, bearer_claims, private_key, sign, unb64

ISSUER = "https://authz.test"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer(vault: Vault) -> BearerIssuer:
    return BearerIssuer(vault, issuer=ISSUER, audience="crypto-api", cache_ttl=0.0)


@pytest.fixture
def published(issuer: BearerIssuer) -> Iterator[JwksServer]:
    """The authz JWKS served over real HTTP."""
    server = JwksServer().start()
    server.document = issuer.jwks()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def checker(published: JwksServer, clock: Clock) -> BearerChecker:
    return BearerChecker(published.url, issuer=ISSUER, audience="crypto-api", clock=clock)


def test_valid_bearer_names_its_account(checker: BearerChecker, issuer: BearerIssuer) -> None:
    """A bearer from the Authorization API gives its sub as the account; the scheme name is
    case-insensitive."""
    token = issuer.issue("acme").access_token
    assert checker.check(f"Bearer {token}").account_id == "acme"
    assert checker.check(f"BEARER {token}").account_id == "acme"


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "],
    ids=["none", "empty", "basic", "no-token", "blank"],
)
def test_missing_bearer(checker: BearerChecker, header: str | None) -> None:
    """No bearer at all is BearerMissing (a 401 without an error code)."""
    with pytest.raises(BearerMissing):
        checker.check(header)


def test_tampered_sub_is_refused(checker: BearerChecker, issuer: BearerIssuer) -> None:
    """Changing sub in a real bearer (keeping its real kid and signature) is refused."""
    header, payload, signature = issuer.issue("acme").access_token.split(".")
    claims = json.loads(unb64(payload))
    claims["sub"] = claims["client_id"] = "victim"
    with pytest.raises(BearerInvalid, match="signature"):
        checker.check(f"Bearer {header}.{b64(claims)}.{signature}")


def test_algorithm_is_pinned(checker: BearerChecker, issuer: BearerIssuer) -> None:
    """HS256 (keyed with the public JWK text, the classic confusion) or none, under the real
    kid, is refused: bearers are ES256 only."""
    real = issuer.issue("acme").access_token
    header = json.loads(unb64(real.split(".")[0]))
    payload = real.split(".")[1]
    for alg in ("HS256", "none"):
        forged_header = b64({**header, "alg": alg})
        secret = json.dumps(issuer.jwks()["keys"][0]).encode()
        mac = hmac.new(secret, f"{forged_header}.{payload}".encode(), hashlib.sha256).digest()
        signature = b64(mac) if alg == "HS256" else ""
        with pytest.raises(BearerInvalid, match="ES256"):
            checker.check(f"Bearer {forged_header}.{payload}.{signature}")


def test_self_signed_bearer_under_real_kid(checker: BearerChecker, issuer: BearerIssuer) -> None:
    """A bearer signed with another EC key but naming the real kid fails the signature."""
    kid = issuer.signing_keys()[0].kid
    forged = sign(
        bearer_claims(ISSUER, "acme"),
        "ES256",
        "ec-p256-other",
        typ="at+jwt",
        kid=kid,
    )
    with pytest.raises(BearerInvalid, match="signature"):
        checker.check(f"Bearer {forged}")


def test_remembered_bearer_expires(
    checker: BearerChecker, issuer: BearerIssuer, clock: Clock
) -> None:
    """A verified bearer is remembered, but not beyond its exp (plus 30 s leeway)."""
    token = issuer.issue("acme").access_token
    checker.check(f"Bearer {token}")
    clock.now += 300 + 29
    assert checker.check(f"Bearer {token}").account_id == "acme"
    clock.now += 2
    with pytest.raises(BearerInvalid, match="expired"):
        checker.check(f"Bearer {token}")


def test_scope_is_required(checker: BearerChecker, issuer: BearerIssuer) -> None:
    """A valid bearer without token:encrypt is BearerScopeMissing (403)."""
    with pytest.raises(BearerScopeMissing):
        checker.check(f"Bearer {issuer.issue('acme', 'other:scope').access_token}")


def test_new_authz_key_is_fetched(
    issuer: BearerIssuer, published: JwksServer, settings: Settings
) -> None:
    """After the Authorization API rotates its signing key, a bearer with the new kid makes
    the checker refetch the JWKS (at most once per 5 s) and pass."""
    monotonic = Clock()
    checker = BearerChecker(
        published.url,
        issuer=ISSUER,
        audience="crypto-api",
        fetcher=JwksFetcher(
            ttl=300.0, min_refresh_interval=5.0, clock=monotonic, public_only=False
        ),
    )
    checker.check(f"Bearer {issuer.issue('acme').access_token}")
    hvac.Client(url=settings.vault_addr, token=settings.vault_token).secrets.transit.rotate_key(
        AUTHZ_SIGNING_KEY
    )
    issuer.signing_keys(fresh=True)
    published.document = issuer.jwks()
    fresh = issuer.issue("acme").access_token
    monotonic.now += 6  # past the refetch interval since the first fetch
    assert checker.check(f"Bearer {fresh}").account_id == "acme"
    assert published.requests == 2


@pytest.fixture
def own_issuer(clock: Clock) -> Iterator[BearerChecker]:
    """A checker trusting a JWKS with a test key, so bearers can carry any claims."""
    server = JwksServer().start()
    public = private_key("ec-p256").as_dict(private=False)
    server.document = {"keys": [{**public, "kid": "k1", "alg": "ES256", "use": "sig"}]}
    try:
        yield BearerChecker(server.url, issuer=ISSUER, audience="crypto-api", clock=clock)
    finally:
        server.stop()


def _bearer(now: float, **times: float | None) -> str:
    claims = {
        "iss": ISSUER,
        "sub": "acme",
        "client_id": "acme",
        "aud": "crypto-api",
        "scope": "token:encrypt",
        "iat": int(now),
        "exp": int(now) + 300,
        **times,
    }
    return sign(
        {k: v for k, v in claims.items() if v is not None},
        "ES256",
        "ec-p256",
        typ="at+jwt",
        kid="k1",
    )


@pytest.mark.parametrize(
    ("times", "fragment"),
    [
        ({"iat": 1.0e20, "exp": 1.0e20 + 300}, "not valid yet"),
        ({"nbf": "future"}, "not valid yet"),
        ({"exp": 10**20}, "at most 3600 s"),
        ({"iat": "past", "exp": "hour"}, "at most 3600 s"),
        ({"iat": None}, "without 'iat'"),
        ({"iat": "soon"}, "not valid yet"),
        ({"iat": "text"}, "malformed"),
    ],
    ids=["iat-far-future", "nbf-future", "exp-1e20", "two-hours", "no-iat", "iat-31s", "iat-text"],
)
def test_bearer_times_are_checked(
    own_issuer: BearerChecker, clock: Clock, times: dict[str, Any], fragment: str
) -> None:
    """A bearer with a future iat or nbf (beyond 30 s), no iat, or a lifetime over an hour
    is refused, even with a valid signature."""
    now = clock.now
    values = {
        "future": now + 600,
        "soon": now + 31,
        "past": now - 3600,
        "hour": now + 3601,
        "text": "yesterday",
    }
    resolved = {k: values.get(v, v) if isinstance(v, str) else v for k, v in times.items()}
    with pytest.raises(BearerInvalid, match=fragment):
        own_issuer.check(f"Bearer {_bearer(now, **resolved)}")


def test_bearer_times_within_bounds_pass(own_issuer: BearerChecker, clock: Clock) -> None:
    """iat and nbf up to 30 s ahead (clock skew) and a one-hour lifetime are accepted."""
    now = clock.now
    token = _bearer(now, iat=now + 29, nbf=now + 29, exp=now + 29 + 3600)
    assert own_issuer.check(f"Bearer {token}").account_id == "acme"
