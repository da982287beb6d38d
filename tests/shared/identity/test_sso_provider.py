"""The IdP side of single sign-on, against real local HTTP servers: the JWT checks (joserfc,
pinned asymmetric algorithms, iss/aud/azp/exp/nonce, key rotation), discovery, and the
bounds on every answer (size, redirects, deadline); the client_secret_basic encoding."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from shared.identity import SsoFailed, SsoSettings, SsoUnavailable
from shared.identity.sso import IdpHttp, ProviderMetadata, Providers
from shared.identity.sso.flow import AsyncOAuth2Client, _basic_form_encoded
from tests.support.jwks_server import JwksServer

ISSUER = "https://id.example.com"
CLIENT = "campaign-player"
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer().start()
    server.document = {"keys": [RSA.as_dict(private=False), EC.as_dict(private=False)]}
    try:
        yield server
    finally:
        server.stop()


def _metadata(jwks_uri: str, issuer: str | None = ISSUER) -> ProviderMetadata:
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=f"{ISSUER}/auth",
        token_endpoint=f"{ISSUER}/token",
        jwks_uri=jwks_uri,
    )


def _token(key: Any = RSA, alg: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": CLIENT, "sub": "ada", "iat": now, "exp": now + 300}
    payload.update(changes)
    payload = {k: v for k, v in payload.items() if v is not None}
    header = {"alg": alg, "kid": getattr(key, "kid", None) or "rsa-1"}
    return jwt.encode(header, payload, key, algorithms=[alg])


def _verify(
    jwks: JwksServer, token: str, *, nonce: str | None = None, providers: Providers | None = None
) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        found = providers or Providers(IdpHttp(deadline=2.0))
        try:
            return await found.verify_jwt(
                token, _metadata(jwks.url), audience=CLIENT, what="ID token", nonce=nonce
            )
        finally:
            if providers is None:
                await found._http.close()

    return asyncio.run(run())


def test_a_good_id_token_is_accepted(jwks: JwksServer) -> None:
    """RS256 and ES256 tokens of the IdP's keys, for us, in time, with the nonce."""
    assert _verify(jwks, _token(nonce="n-1"), nonce="n-1")["sub"] == "ada"
    assert _verify(jwks, _token(EC, "ES256", nonce="n-1"), nonce="n-1")["sub"] == "ada"


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "someone-else"},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 3600},
        {"nonce": "another"},
        {"nonce": None},
        {"sub": None},
        {"aud": [CLIENT, "other"]},  # several audiences and no azp
        {"aud": [CLIENT, "other"], "azp": "other"},
    ],
    ids=["aud", "iss", "expired", "nonce", "no-nonce", "no-sub", "multi-aud", "azp"],
)
def test_a_wrong_claim_is_refused(jwks: JwksServer, changes: dict[str, Any]) -> None:
    """Each of iss, aud (and azp), exp, sub and nonce is checked."""
    with pytest.raises(SsoFailed) as refused:
        _verify(jwks, _token(**{"nonce": "n-1", **changes}), nonce="n-1")
    assert type(refused.value) is SsoFailed


def test_several_audiences_with_our_azp_pass(jwks: JwksServer) -> None:
    """OpenID Connect Core §3.1.3.7: several audiences are fine when azp is us."""
    token = _token(aud=[CLIENT, "api"], azp=CLIENT)
    assert _verify(jwks, token)["azp"] == CLIENT


def test_none_and_hmac_are_never_accepted(jwks: JwksServer) -> None:
    """alg none, and an HMAC token (even one keyed with a secret the JWKS publishes as an
    oct key) are refused: the algorithms are pinned to asymmetric ones."""
    unsigned = (
        base64.urlsafe_b64encode(b'{"alg":"none","kid":"rsa-1"}').rstrip(b"=").decode()
        + "."
        + base64.urlsafe_b64encode(
            f'{{"iss":"{ISSUER}","aud":"{CLIENT}","sub":"x","exp":{int(time.time()) + 9}}}'.encode()
        )
        .rstrip(b"=")
        .decode()
        + "."
    )
    with pytest.raises(SsoFailed):
        _verify(jwks, unsigned)
    secret = OctKey.import_key(b"s" * 32, parameters={"kid": "oct-1"})
    jwks.document = {"keys": [*jwks.document["keys"], secret.as_dict(private=True)]}
    with pytest.raises(SsoFailed):
        _verify(jwks, _token(secret, "HS256"))


@pytest.mark.parametrize("interval", [0.0, 10.0], ids=["rotated", "flood"])
def test_an_unknown_kid_reads_the_jwks_again_at_most_so_often(
    jwks: JwksServer, interval: float
) -> None:
    """An unknown kid reads the JWKS again (the IdP rotated its keys), but not twice within
    ``jwks_min_interval`` (made-up kids must not hammer the IdP); a known kid is served from
    the cache."""
    providers = Providers(IdpHttp(deadline=2.0), jwks_min_interval=interval)
    new = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})

    async def run() -> None:
        meta = _metadata(jwks.url)
        await providers.verify_jwt(_token(), meta, audience=CLIENT, what="ID token")
        await providers.verify_jwt(_token(), meta, audience=CLIENT, what="ID token")
        assert jwks.requests == 1
        jwks.document = {"keys": [new.as_dict(private=False)]}
        try:
            await providers.verify_jwt(_token(new), meta, audience=CLIENT, what="ID token")
        finally:
            await providers._http.close()

    if interval:
        with pytest.raises(SsoFailed, match="kid"):
            asyncio.run(run())
        assert jwks.requests == 1
    else:
        asyncio.run(run())
        assert jwks.requests == 2


def test_jwks_outages(jwks: JwksServer) -> None:
    """A JWKS that cannot be read is SSO_UNAVAILABLE; one cached is used meanwhile."""
    jwks.status = 503
    with pytest.raises(SsoUnavailable):
        _verify(jwks, _token())
    jwks.status = 200
    providers = Providers(IdpHttp(deadline=2.0), jwks_ttl=0.0)

    async def run() -> None:
        meta = _metadata(jwks.url)
        await providers.verify_jwt(_token(), meta, audience=CLIENT, what="ID token")
        jwks.status = 500
        claims = await providers.verify_jwt(_token(), meta, audience=CLIENT, what="ID token")
        assert claims["sub"] == "ada"
        await providers._http.close()

    asyncio.run(run())


def _discover(server: JwksServer, issuer: str) -> ProviderMetadata:
    async def run() -> ProviderMetadata:
        providers = Providers(IdpHttp(deadline=1.0))
        try:
            return await providers.metadata(SsoSettings(issuer=issuer, client_id=CLIENT))
        finally:
            await providers._http.close()

    return asyncio.run(run())


def test_discovery(jwks: JwksServer) -> None:
    """The document's endpoints and RFC 9207 flag are used; one naming another issuer, an
    endpoint over plain http off loopback, a redirect, or an answer over the size cap are
    SSO_FAILED; a slow IdP is SSO_UNAVAILABLE within the deadline."""
    issuer = jwks.url.removesuffix("/jwks.json")
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/me",
        "jwks_uri": f"{issuer}/jwks",
        "authorization_response_iss_parameter_supported": True,
    }
    jwks.document = document
    found = _discover(jwks, issuer)
    assert found.token_endpoint == f"{issuer}/token"
    assert found.iss_parameter is True
    for bad in (
        {**document, "issuer": "https://other.example.com"},
        {**document, "token_endpoint": "http://id.example.com/token"},
    ):
        jwks.document = bad
        with pytest.raises(SsoFailed):
            _discover(jwks, issuer)
    jwks.document = document
    jwks.status = 302
    with pytest.raises(SsoFailed):
        _discover(jwks, issuer)
    jwks.status = 200
    jwks.body = b'{"issuer": "' + b"x" * 300_000 + b'"}'
    with pytest.raises(SsoFailed, match="too large"):
        _discover(jwks, issuer)
    jwks.body = None
    jwks.delay = 3.0
    began = time.monotonic()
    with pytest.raises(SsoUnavailable):
        _discover(jwks, issuer)
    assert time.monotonic() - began < 2.0


def test_client_secret_basic_is_form_encoded_first() -> None:
    """RFC 6749 §2.3.1: each of id and secret application/x-www-form-urlencoded, then
    joined by ':' and base64 (Authlib's own would send them raw)."""

    class Auth:
        client_id = "player:basic id"
        client_secret = "s3cr:et+%/="

    _, headers, _ = _basic_form_encoded(Auth(), "POST", "https://id/token", {}, "")
    scheme, value = headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(value).decode() == "player%3Abasic+id:s3cr%3Aet%2B%25%2F%3D"


def test_authlib_client_is_an_httpx_client() -> None:
    """Authlib's client is the project's httpx (not its httpx2 fork): the bounded transport
    it is given is the one the rest of the IdP traffic uses."""
    assert issubclass(AsyncOAuth2Client, httpx.AsyncClient)
