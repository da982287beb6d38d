"""Encrypting through the Crypto API, end to end with the real Authorization API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from jwcrypto import jwe as jw_jwe
from jwcrypto import jwk as jw_jwk

from shared import Account, AccountStore, KeyStore, Vault, Verifier
from shared.accounts.document import RateLimit, RateLimits
from shared.server.bearer_issuer import BearerIssuer
from tests.support.crypto import Crypto, assert_problem
from tests.support.jwks_server import JwksServer
from tests.support.tokens import b64, bearer_claims, claims, private_key, sign, unb64


@pytest.fixture
def ec(make_account: Callable[..., Account]) -> Account:
    return make_account(algorithms=("ES256",), key="ec-p256")


def test_encrypt_then_player_verifies(crypto: Crypto, ec: Account, verifier: Verifier) -> None:
    """A bearer from the Authorization API encrypts a JWS; the player's verifier opens the
    JWE and gets the original claims."""
    original = claims(profile={"email": "ada@example.com"}, gift={"label": "car", "cw": True})
    token = sign(original, "ES256", "ec-p256")
    response = crypto.encrypt(crypto.bearer(ec.id), token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["kid"] == f"{ec.id}/1"
    assert (body["alg"], body["enc"]) == ("RSA-OAEP-256", "A256GCM")
    header = json.loads(unb64(body["token"].split(".")[0]))
    assert header == {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": f"{ec.id}/1", "cty": "JWT"}
    result = verifier.verify(body["token"], account_id=ec.id, campaign_id="1001")
    assert result.encrypted is True
    assert result.claims == original


def test_application_jwt_bodies(crypto: Crypto, ec: Account, verifier: Verifier) -> None:
    """A raw application/jwt body gets a raw application/jwt JWE back."""
    response = crypto.http.post(
        "/v1/encrypt",
        content=sign(claims(), "ES256", "ec-p256"),
        headers={
            "Authorization": f"Bearer {crypto.bearer(ec.id)}",
            "Content-Type": "application/jwt",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jwt")
    assert verifier.verify(response.text, account_id=ec.id, campaign_id="1001").encrypted


@pytest.mark.parametrize(
    ("framing", "status"),
    [("{}\n", 200), ("{}\r\n", 200), (" {}", 422), ("{}\n\n", 422), ("{} ", 422)],
    ids=["newline", "crlf", "leading-space", "two-newlines", "trailing-space"],
)
def test_a_raw_body_loses_its_final_newline_and_nothing_else(
    crypto: Crypto, ec: Account, framing: str, status: int
) -> None:
    """`curl --data-binary @token.txt` sends the file's final newline: that framing is
    removed; any other whitespace refuses the token (TOKEN_INVALID_FORMAT), as the library
    does everywhere (issue 18)."""
    response = crypto.http.post(
        "/v1/encrypt",
        content=framing.format(sign(claims(), "ES256", "ec-p256")),
        headers={
            "Authorization": f"Bearer {crypto.bearer(ec.id)}",
            "Content-Type": "application/jwt",
        },
    )
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["code"] == "TOKEN_INVALID_FORMAT"


def test_independent_library_decrypts_and_encrypts(
    crypto: Crypto,
    make_account: Callable[..., Account],
    keystore: KeyStore,
    vault: Vault,
    make_exportable: Callable[[str], None],
    verifier: Verifier,
) -> None:
    """jwcrypto decrypts our JWE with the (test-only exportable) private key, and a JWE that
    jwcrypto makes with the published JWKS opens with our verifier."""
    account = make_account(algorithms=("ES256",), key="ec-p256")
    make_exportable(account.id)
    token = sign(claims(), "ES256", "ec-p256")
    jwe = crypto.encrypt(crypto.bearer(account.id), token).json()["token"]
    private = jw_jwk.JWK.from_pem(
        vault.transit_export(f"account-{account.id}", "encryption-key", 1).encode()
    )
    opened = jw_jwe.JWE()
    opened.deserialize(jwe, key=private)
    assert opened.payload.decode() == token

    published = crypto.http.get(f"/v1/accounts/{account.id}/jwks.json").json()["keys"][0]
    assert (published["use"], published["alg"], published["kid"]) == (
        "enc",
        "RSA-OAEP-256",
        f"{account.id}/1",
    )
    made = jw_jwe.JWE(
        token.encode(),
        json.dumps(
            {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": published["kid"], "cty": "JWT"}
        ),
    )
    made.add_recipient(jw_jwk.JWK(**published))
    result = verifier.verify(
        made.serialize(compact=True), account_id=account.id, campaign_id="1001"
    )
    assert result.key_version == 1


def test_isolation_between_accounts(
    crypto: Crypto, make_account: Callable[..., Account], account_id: str
) -> None:
    """A's bearer only ever seals under A's key; B's token with A's bearer is refused with
    TOKEN_INVALID_SIGNATURE."""
    a = make_account(algorithms=("ES256",), key="ec-p256")
    b = make_account(id=f"{account_id}-b", algorithms=("ES256",), key="ec-p256-other")
    bearer_a = crypto.bearer(a.id)
    sealed = crypto.encrypt(bearer_a, sign(claims(), "ES256", "ec-p256")).json()
    assert sealed["kid"].startswith(f"{a.id}/")
    b_token = sign(claims(), "ES256", "ec-p256-other")  # same alg: only the key differs
    assert crypto.encrypt(crypto.bearer(b.id, key="ec-p256-other"), b_token).status_code == 200
    refused = crypto.encrypt(bearer_a, b_token)
    assert_problem(refused, 422, "TOKEN_INVALID_SIGNATURE")
    batch = crypto.batch(bearer_a, [b_token]).json()
    assert batch["results"][0]["error"]["code"] == "TOKEN_INVALID_SIGNATURE"
    # The request cannot name another account: the bearer's sub decides.
    forged = crypto.http.post(
        "/v1/encrypt",
        json={"token": sign(claims(), "RS256", "rsa-2048"), "account": b.id},
        headers={"Authorization": f"Bearer {bearer_a}"},
    )
    assert_problem(forged, 400, "REQUEST_INVALID")


def bearer_with(vault: Vault, crypto: Crypto, account_id: str, **changes: Any) -> str:
    """A bearer really signed by authz-signing, with changed claims or clock."""
    options = {"issuer": crypto.authz.issuer, "audience": "crypto-api", **changes}
    scope = options.pop("scope", "token:encrypt")
    return BearerIssuer(vault, **options).issue(account_id, scope).access_token


def test_bad_bearers(crypto: Crypto, ec: Account, vault: Vault) -> None:
    """Missing, expired, other-audience, other-issuer and unknown-key bearers are 401; one
    lacking the scope is 403."""
    token = sign(claims(), "ES256", "ec-p256")
    assert_problem(crypto.encrypt(None, token), 401, "BEARER_INVALID")
    old = bearer_with(vault, crypto, ec.id, clock=lambda: time.time() - 3600)
    assert "expired" in assert_problem(crypto.encrypt(old, token), 401, "BEARER_INVALID")["detail"]
    other = bearer_with(vault, crypto, ec.id, audience="someone-else")
    assert (
        "audience" in assert_problem(crypto.encrypt(other, token), 401, "BEARER_INVALID")["detail"]
    )
    foreign = bearer_with(vault, crypto, ec.id, issuer="https://evil.example")
    assert_problem(crypto.encrypt(foreign, token), 401, "BEARER_INVALID")
    unknown_key = sign(
        bearer_claims(crypto.authz.issuer, ec.id),
        "ES256",
        "ec-p256-other",
        typ="at+jwt",
        kid="nope",
    )
    response = crypto.encrypt(unknown_key, token)
    assert_problem(response, 401, "BEARER_INVALID")
    assert response.headers["www-authenticate"].startswith("Bearer")
    no_scope = bearer_with(vault, crypto, ec.id, scope="something:else")
    response = crypto.encrypt(no_scope, token)
    assert_problem(response, 403, "INSUFFICIENT_SCOPE")
    assert response.headers["www-authenticate"] == (
        'Bearer realm="crypto-api", error="insufficient_scope", scope="token:encrypt"'
    )
    jws_as_bearer = token  # a secure token is not an access token
    assert_problem(crypto.encrypt(jws_as_bearer, token), 401, "BEARER_INVALID")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda: sign(claims(exp=int(time.time()) - 3600, iat=None), "ES256", "ec-p256"),
            "TOKEN_EXPIRED",
        ),
        (lambda: sign(claims(sub=None), "ES256", "ec-p256"), "TOKEN_INVALID_CLAIMS"),
        (lambda: f"{b64({'alg': 'none'})}.{b64(claims())}.", "TOKEN_INVALID_SIGNATURE"),
        (lambda: "a.b.c.d.e", "TOKEN_INVALID_FORMAT"),
        (lambda: "   ", "TOKEN_EMPTY"),
    ],
    ids=["expired", "no-sub", "alg-none", "jwe", "empty"],
)
def test_bad_tokens_are_refused_now(
    crypto: Crypto, ec: Account, make: Callable[[], str], code: str
) -> None:
    """A token the player would refuse is refused at encryption time, with its code."""
    assert_problem(crypto.encrypt(crypto.bearer(ec.id), make()), 422, code)


def test_batch(crypto: Crypto, ec: Account, verifier: Verifier) -> None:
    """A batch answers in input order, each item a JWE or an error with its code, with counts;
    bad items never fail the good ones."""
    good = [sign(claims(sub=f"p{i}"), "ES256", "ec-p256") for i in range(5)]
    bad = sign(claims(), "ES256", "ec-p256-other")
    response = crypto.batch(crypto.bearer(ec.id), [good[0], bad, *good[1:], "garbage"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (5, 2)
    results = body["results"]
    assert results[1] == {
        "error": {"code": "TOKEN_INVALID_SIGNATURE", "detail": results[1]["error"]["detail"]}
    }
    assert results[6]["error"]["code"] == "TOKEN_INVALID_FORMAT"
    subjects = [
        verifier.verify(r["token"], account_id=ec.id, campaign_id="1001").subject
        for r in results
        if "token" in r
    ]
    assert subjects == [f"p{i}" for i in range(5)]


def test_batch_limits(make_crypto: Callable[..., Any], ec: Account) -> None:
    """More tokens than the configured maximum is 413, titled as a body over its limit; an
    empty or malformed batch is 400."""
    with make_crypto(batch_max=3) as small:
        bearer = small.bearer(ec.id)
        token = sign(claims(), "ES256", "ec-p256")
        assert small.batch(bearer, [token] * 3).status_code == 200
        too_many = assert_problem(small.batch(bearer, [token] * 4), 413, "PAYLOAD_TOO_LARGE")
        too_big = small.http.post(
            "/v1/encrypt",
            content=b"x" * 40_000,
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        )
        # One title for every 413, the table's and the framework's (issue 13, finding 11).
        titles = {too_many["title"], assert_problem(too_big, 413, "PAYLOAD_TOO_LARGE")["title"]}
        assert titles == {"Content too large"}
        assert_problem(small.batch(bearer, []), 400, "REQUEST_INVALID")
        bad = small.http.post(
            "/v1/encrypt/batch", content=b"{not json", headers={"Authorization": f"Bearer {bearer}"}
        )
        assert_problem(bad, 400, "REQUEST_INVALID")


def test_account_jwks(crypto: Crypto, ec: Account, keystore: KeyStore) -> None:
    """The account JWKS lists live versions, latest first, for encryption only; unknown
    accounts are 404."""
    keystore.rotate(ec.id)
    keys = crypto.http.get(f"/v1/accounts/{ec.id}/jwks.json").json()["keys"]
    # A cache may still hold the pre-rotation document for up to the TTL.
    assert keys[0]["kid"] in {f"{ec.id}/2", f"{ec.id}/1"}
    assert all(k["use"] == "enc" and k["alg"] == "RSA-OAEP-256" and k["kty"] == "RSA" for k in keys)
    assert all("d" not in k for k in keys)
    assert_problem(
        crypto.http.get("/v1/accounts/no-such-account/jwks.json"), 404, "ACCOUNT_NOT_FOUND"
    )


def test_account_jwks_is_limited_per_address(
    make_crypto: Callable[..., Any], ec: Account, store: AccountStore, make_account: Any
) -> None:
    """The public key sets need no credential: one address gets a burst, then 429 with
    Retry-After, while another address is served; unknown and disabled ids answer alike."""
    disabled = make_account(algorithms=("ES256",), key="ec-p256", id=f"{ec.id}-gone")
    store.disable(disabled.id)
    with make_crypto(crypto_jwks_rate_per_second=0.01, crypto_jwks_rate_burst=3) as crypto:

        def get(account_id: str, address: str) -> Any:
            return crypto.http.get(
                f"/v1/accounts/{account_id}/jwks.json", headers={"X-Forwarded-For": address}
            )

        first = get(ec.id, "192.0.2.1")
        assert first.status_code == 200
        assert first.headers["cache-control"].startswith("public")
        unknown, gone = get("no-such-account", "192.0.2.1"), get(disabled.id, "192.0.2.1")
        assert (unknown.status_code, gone.status_code) == (404, 404)
        assert unknown.json()["detail"].replace("no-such-account", "X") == (
            gone.json()["detail"].replace(disabled.id, "X")
        )
        limited = get(ec.id, "192.0.2.1")
        assert_problem(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) >= 1
        assert get(ec.id, "192.0.2.2").status_code == 200  # another address


def test_oversized_body(crypto: Crypto, ec: Account) -> None:
    """A body beyond the limit is a 413 problem (with a valid bearer: without one, 401)."""
    response = crypto.http.post(
        "/v1/encrypt",
        content=b"x" * (20 * 1024 * 1024),
        headers={"Authorization": f"Bearer {crypto.bearer(ec.id)}"},
    )
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_disabled_account_with_valid_bearer(
    make_crypto: Callable[..., Any], ec: Account, store: AccountStore
) -> None:
    """A bearer issued before the account was disabled gets 403 ACCOUNT_DISABLED, with a
    challenge that names no RFC 6750 error: the bearer has the scope (so not
    insufficient_scope) and a new one would be refused too (so not invalid_token)."""
    with make_crypto(cache_ttl=0.0) as crypto:
        bearer = crypto.bearer(ec.id)
        store.disable(ec.id)
        response = crypto.encrypt(bearer, sign(claims(), "ES256", "ec-p256"))
        assert_problem(response, 403, "ACCOUNT_DISABLED")
        assert response.headers["www-authenticate"] == 'Bearer realm="crypto-api"'


def test_rate_limit_counts_batch_items(make_crypto: Callable[..., Any], ec: Account) -> None:
    """A batch spends one token per item of the batch budget: after a batch as large as its
    burst, the next batch is 429 with Retry-After, and the detail names the limit."""
    with make_crypto(crypto_batch_rate_per_second=1.0, crypto_batch_rate_burst=5) as crypto:
        bearer = crypto.bearer(ec.id)
        token = sign(claims(), "ES256", "ec-p256")
        assert crypto.batch(bearer, [token] * 5).status_code == 200
        limited = crypto.batch(bearer, [token])
        assert_problem(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) >= 1
        assert "rate limit is 1 batch tokens/s (burst 5)" in limited.json()["detail"]


def test_batches_never_spend_the_single_calls_budget(
    make_crypto: Callable[..., Any], ec: Account
) -> None:
    """Batch tokens and single calls have budgets of their own: a campaign that exhausts
    the batch budget leaves the account's live /v1/encrypt traffic untouched."""
    with make_crypto(
        crypto_rate_per_second=1.0,
        crypto_rate_burst=2,
        crypto_batch_rate_per_second=1.0,
        crypto_batch_rate_burst=50,
    ) as crypto:
        bearer = crypto.bearer(ec.id)
        token = sign(claims(), "ES256", "ec-p256")
        assert crypto.batch(bearer, [token] * 50).status_code == 200
        assert crypto.encrypt(bearer, token).status_code == 200
        assert crypto.encrypt(bearer, token).status_code == 200
        limited = crypto.encrypt(bearer, token)
        assert_problem(limited, 429, "RATE_LIMITED")
        assert "rate limit is 1 calls/s (burst 2)" in limited.json()["detail"]


def test_the_account_documents_limits_win_over_the_defaults(
    make_crypto: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    """An account whose document sets rate_limits is held to them, whatever the
    environment's defaults (here: no limit); another account keeps the defaults."""
    limits = RateLimits(single=RateLimit(per_second=1.0, burst=1), batch=RateLimit(1.0, 3))
    capped = make_account(algorithms=("ES256",), key="ec-p256", rate_limits=limits)
    free = make_account(algorithms=("ES256",), key="ec-p256", id=f"{capped.id}-free")
    token = sign(claims(), "ES256", "ec-p256")
    with make_crypto(crypto_rate_per_second=0.0, crypto_batch_rate_per_second=0.0) as crypto:
        bearer = crypto.bearer(capped.id)
        assert crypto.encrypt(bearer, token).status_code == 200
        assert_problem(crypto.encrypt(bearer, token), 429, "RATE_LIMITED")
        assert crypto.batch(bearer, [token] * 3).status_code == 200
        assert_problem(crypto.batch(bearer, [token]), 429, "RATE_LIMITED")
        other = crypto.bearer(free.id)
        assert [crypto.encrypt(other, token).status_code for _ in range(5)] == [200] * 5


@pytest.mark.parametrize(
    "body",
    [b'{"token": "\xff\xfe"}', b"\xff\xff", b'{"token": 5}', b'{"tokens": ["x"]}', b"[]"],
    ids=["non-utf8-string", "non-utf8", "wrong-type", "wrong-field", "array"],
)
def test_malformed_bodies_are_400(crypto: Crypto, ec: Account, body: bytes) -> None:
    """Bodies that are not {"token": "<string>"} in UTF-8 JSON are 400, never 500."""
    response = crypto.http.post(
        "/v1/encrypt",
        content=body.decode("unicode_escape").encode("latin-1"),
        headers={
            "Authorization": f"Bearer {crypto.bearer(ec.id)}",
            "Content-Type": "application/json",
        },
    )
    assert_problem(response, 400, "REQUEST_INVALID")


@pytest.mark.parametrize(
    ("body", "content_type", "detail"),
    [
        (b'{"token": ""}', "application/json", "the token is empty"),
        (b'{"token": "  "}', "application/json", "the token is empty (only whitespace)"),
        (b"", "application/jwt", "the token is empty"),
    ],
    ids=["json-empty", "json-blank", "jwt-empty"],
)
def test_empty_token_says_so(
    crypto: Crypto, ec: Account, body: bytes, content_type: str, detail: str
) -> None:
    """An empty token is 422 TOKEN_EMPTY saying the token is empty (issue 13, finding 11)."""
    response = crypto.http.post(
        "/v1/encrypt",
        content=body,
        headers={"Authorization": f"Bearer {crypto.bearer(ec.id)}", "Content-Type": content_type},
    )
    assert assert_problem(response, 422, "TOKEN_EMPTY")["detail"] == detail


def _public_jwk(stem: str, kid: str) -> dict[str, Any]:
    return {**private_key(stem).as_dict(private=False), "kid": kid}


def test_jwks_endpoint_refusing_is_jwks_refused(
    crypto: Crypto, make_account: Callable[..., Any], jwks_server: JwksServer
) -> None:
    """Issue 13 finding 3: once the account's JWKS endpoint answers 404, an encrypt (and a
    whole batch, once) is 422 JWKS_REFUSED naming the status, not a retryable 503."""
    jwks_server.document = {"keys": [_public_jwk("rsa-2048", "k1")]}
    account = make_account("jwks", algorithms=("RS256",), jwks_uri=jwks_server.url)
    token = sign(claims(), "RS256", "rsa-2048", kid="k1")
    exchanged = crypto.authz.jwt_bearer(account.id, token)  # the authz API fetched it
    assert exchanged.status_code == 200, exchanged.text
    bearer = exchanged.json()["access_token"]
    jwks_server.status = 404  # the Crypto API has not fetched it yet
    for response in (crypto.encrypt(bearer, token), crypto.batch(bearer, [token, token])):
        body = assert_problem(response, 422, "JWKS_REFUSED")
        assert body["title"] == "Account's JWKS endpoint refused"
        assert "the account's JWKS endpoint answered HTTP 404" in body["detail"]
        assert "Retry-After" not in response.headers
