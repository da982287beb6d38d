"""Every refusal of /oauth/token names its OAuth error and our token code."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from shared import Account, AccountStore, TokenPolicy
from shared.wire import JWT_BEARER
from tests.support.authz import Authz, assert_oauth_error
from tests.support.tokens import b64, claims, sign


@pytest.fixture
def ec(make_account: Callable[..., Account]) -> Account:
    return make_account(algorithms=("ES256",), key="ec-p256")


def none_token(payload: dict[str, Any]) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload)}."


# -- jwt-bearer grant: the assertion is refused (invalid_grant + token code) ----------------


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda: sign(claims(exp=int(time.time()) - 3600, iat=None), "ES256", "ec-p256"),
            "TOKEN_EXPIRED",
        ),
        (lambda: sign(claims(), "ES256", "ec-p256-other"), "TOKEN_INVALID_SIGNATURE"),
        (lambda: sign(claims(), "ES384", "ec-p384"), "TOKEN_INVALID_SIGNATURE"),
        (lambda: sign(claims(), "RS256", "rsa-2048"), "TOKEN_INVALID_SIGNATURE"),
        (lambda: none_token(claims()), "TOKEN_INVALID_SIGNATURE"),
        (lambda: sign(claims(campaign=None), "ES256", "ec-p256"), "TOKEN_INVALID_CLAIMS"),
        (lambda: "not-a-token", "TOKEN_INVALID_FORMAT"),
    ],
    ids=["expired", "wrong-key", "wrong-alg", "other-family", "alg-none", "no-campaign", "garbage"],
)
def test_bad_assertion_is_invalid_grant(
    authz: Authz, ec: Account, make: Callable[[], str], code: str
) -> None:
    """A secure token that the account's method refuses is invalid_grant with its code."""
    body = assert_oauth_error(authz.jwt_bearer(ec.id, make()), 400, "invalid_grant", code)
    assert "refused" in body["error_description"]


# -- client_credentials: client authentication fails (invalid_client + token code) ---------


def test_replayed_client_assertion_is_refused(authz: Authz, ec: Account) -> None:
    """A client assertion is single-use: the second presentation is invalid_client."""
    assertion = authz.client_assertion(ec.id, "ES256", "ec-p256")
    assert authz.client_credentials(assertion).status_code == 200
    body = assert_oauth_error(
        authz.client_credentials(assertion), 401, "invalid_client", "TOKEN_INVALID_CLAIMS"
    )
    assert "used already" in body["error_description"]


def test_replay_refused_across_instances_sharing_redis(
    serve_authz: Callable[..., Any], ec: Account, redis_server: Any
) -> None:
    """Two instances behind one public issuer share Redis: an assertion used at one is
    refused at the other; with separate memory stores (each told it is the only instance,
    which is why the API needs REDIS_URL or AUTHZ_SINGLE_INSTANCE) it would not be."""
    public = "https://authz.example"
    shared = {"redis_url": redis_server.url, "authz_issuer": public}
    with serve_authz(**shared) as first, serve_authz(**shared) as second:
        assertion = first.client_assertion(ec.id, "ES256", "ec-p256")
        assert first.client_credentials(assertion).status_code == 200
        body = assert_oauth_error(
            second.client_credentials(assertion), 401, "invalid_client", "TOKEN_INVALID_CLAIMS"
        )
        assert "used already" in body["error_description"]
    with serve_authz(authz_issuer=public) as third, serve_authz(authz_issuer=public) as fourth:
        assertion = third.client_assertion(ec.id, "ES256", "ec-p256")
        assert third.client_credentials(assertion).status_code == 200
        assert fourth.client_credentials(assertion).status_code == 200  # why Redis is needed


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"aud": "https://someone-else.example/token"}, "TOKEN_INVALID_CLAIMS", "aud"),
        ({"lifetime": 600}, "TOKEN_INVALID_CLAIMS", "at most 300"),
        ({"lifetime": 3600, "iat": None}, "TOKEN_INVALID_CLAIMS", "at most 300"),
        ({"jti": None}, "TOKEN_INVALID_CLAIMS", "jti"),
        ({"exp": None}, "TOKEN_INVALID_CLAIMS", "exp"),
        ({"iss": "someone-else"}, "TOKEN_INVALID_CLAIMS", "iss and sub"),
        ({"exp": 1_000_000, "iat": 999_900}, "TOKEN_EXPIRED", "expired"),
    ],
    ids=[
        "aud-not-us",
        "lives-10-min",
        "lives-1-h-no-iat",
        "no-jti",
        "no-exp",
        "iss-not-client",
        "expired",
    ],
)
def test_bad_client_assertion_is_invalid_client(
    authz: Authz, ec: Account, overrides: dict[str, Any], code: str, fragment: str
) -> None:
    """A client assertion breaking an RFC 7523 §3 rule is invalid_client with its code."""
    assertion = authz.client_assertion(ec.id, "ES256", "ec-p256", **overrides)
    body = assert_oauth_error(
        authz.client_credentials(assertion, client_id=ec.id), 401, "invalid_client", code
    )
    assert fragment in body["error_description"]


def test_client_assertion_with_wrong_key_or_alg(authz: Authz, ec: Account) -> None:
    """Signed by another key, with another alg, or alg none: invalid_client, bad signature."""
    for assertion in (
        authz.client_assertion(ec.id, "ES256", "ec-p256-other"),
        authz.client_assertion(ec.id, "RS256", "rsa-2048"),
        none_token(
            {
                "iss": ec.id,
                "sub": ec.id,
                "aud": authz.token_endpoint,
                "exp": int(time.time()) + 60,
                "jti": "x",
            }
        ),
    ):
        assert_oauth_error(
            authz.client_credentials(assertion), 401, "invalid_client", "TOKEN_INVALID_SIGNATURE"
        )


def test_unknown_and_disabled_clients_look_the_same(
    serve_authz: Callable[..., Any], ec: Account, store: AccountStore
) -> None:
    """Unknown and disabled accounts both get invalid_client with the same description and
    no token code, so the answer does not tell which."""
    token = sign(claims(), "ES256", "ec-p256")
    store.disable(ec.id)
    with serve_authz() as fresh:  # a new app: nothing cached from before the disable
        unknown = assert_oauth_error(
            fresh.jwt_bearer("no-such-account", token), 401, "invalid_client"
        )
        disabled = assert_oauth_error(fresh.jwt_bearer(ec.id, token), 401, "invalid_client")
        by_assertion = assert_oauth_error(
            fresh.client_credentials(fresh.client_assertion(ec.id, "ES256", "ec-p256")),
            401,
            "invalid_client",
        )
    assert unknown == disabled == by_assertion
    assert "code" not in unknown


# -- malformed requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"grant_type": "password", "username": "u", "password": "p"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": JWT_BEARER, "client_id": "acme"}, "invalid_request"),
        ({"grant_type": JWT_BEARER, "assertion": "a.b.c"}, "invalid_request"),
        ({"grant_type": "client_credentials", "client_assertion": "a.b.c"}, "invalid_request"),
        (
            {
                "grant_type": "client_credentials",
                "client_assertion_type": "x",
                "client_assertion": "a.b.c",
            },
            "invalid_request",
        ),
        (
            {"grant_type": JWT_BEARER, "client_id": "acme", "assertion": "a.b.c", "scope": "admin"},
            "invalid_scope",
        ),
    ],
    ids=[
        "password",
        "auth-code",
        "nothing",
        "no-assertion",
        "no-client-id",
        "no-assertion-type",
        "bad-assertion-type",
        "scope",
    ],
)
def test_malformed_requests(authz: Authz, params: dict[str, str], error: str) -> None:
    """Unknown grants, missing parameters and foreign scopes get their RFC 6749 error."""
    assert_oauth_error(authz.token(**params), 400, error)


def test_non_form_body(authz: Authz) -> None:
    """A JSON body is invalid_request, telling the developer to form-encode."""
    response = authz.http.post("/oauth/token", json={"grant_type": JWT_BEARER})
    body = assert_oauth_error(response, 400, "invalid_request")
    assert "application/x-www-form-urlencoded" in body["error_description"]


def test_repeated_parameter(authz: Authz) -> None:
    """A parameter given twice is invalid_request (RFC 6749 §3.2)."""
    response = authz.http.post(
        "/oauth/token",
        content=f"grant_type={JWT_BEARER}&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_one_megabyte_body(authz: Authz) -> None:
    """A 1 MB body is refused with 413 and an OAuth error, without being processed."""
    response = authz.http.post(
        "/oauth/token",
        content=b"grant_type=x&assertion=" + b"a" * 1_000_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    body = assert_oauth_error(response, 413, "invalid_request")
    assert "too large" in body["error_description"]


def test_disabled_after_being_cached(
    serve_authz: Callable[..., Any], ec: Account, store: AccountStore
) -> None:
    """An account disabled while an instance has it cached gets no bearer once the cache TTL
    and the revalidation window (the verification deadline: an expired entry is served
    while it is refreshed) have passed."""
    token = sign(claims(), "ES256", "ec-p256")
    with serve_authz(cache_ttl=0.5, verify_deadline=0.5) as authz:
        assert authz.jwt_bearer(ec.id, token).status_code == 200
        store.disable(ec.id)
        time.sleep(1.1)
        assert_oauth_error(authz.jwt_bearer(ec.id, token), 401, "invalid_client")


def test_jwt_bearer_with_foreign_aud_is_refused(authz: Authz, ec: Account) -> None:
    """A secure token whose aud names someone else is invalid_grant (RFC 7523 §3); one aimed
    at us, or with no aud, is accepted."""
    foreign = sign(claims(aud="https://other.example"), "ES256", "ec-p256")
    body = assert_oauth_error(
        authz.jwt_bearer(ec.id, foreign), 400, "invalid_grant", "TOKEN_INVALID_CLAIMS"
    )
    assert "aud" in body["error_description"]
    assert (
        authz.jwt_bearer(ec.id, sign(claims(aud=authz.issuer), "ES256", "ec-p256")).status_code
        == 200
    )
    assert (
        authz.jwt_bearer(
            ec.id, sign(claims(aud=[authz.token_endpoint, "x"]), "ES256", "ec-p256")
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("lifetime", "iat_offset", "ok"),
    [(300, 0, True), (301, 0, False), (300, None, True), (305, None, False), (290, 59, False)],
    ids=["300s", "301s", "300s-no-iat", "305s-no-iat", "future-iat-stretch"],
)
def test_client_assertion_lifetime_boundary(
    authz: Authz, ec: Account, lifetime: int, iat_offset: int | None, ok: bool
) -> None:
    """exp may be at most 300 s after iat and after now (our clock), whatever the leeway."""
    now = int(time.time())
    overrides: dict[str, Any] = {"exp": now + lifetime + (iat_offset or 0)}
    overrides["iat"] = None if iat_offset is None else now + iat_offset
    response = authz.client_credentials(
        authz.client_assertion(ec.id, "ES256", "ec-p256", **overrides)
    )
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert_oauth_error(response, 401, "invalid_client", "TOKEN_INVALID_CLAIMS")


# -- the account's jwt-bearer policy ---------------------------------------------------------


def test_jwt_bearer_disabled_is_unauthorized_client(
    authz: Authz, make_account: Callable[..., Account]
) -> None:
    """An account with jwt_bearer 'disabled' refuses the grant (400 unauthorized_client) for
    a valid token, while its client_credentials still work."""
    account = make_account(policy=TokenPolicy(jwt_bearer="disabled"))
    token = sign(claims(), "ES256", "ec-p256")
    body = assert_oauth_error(authz.jwt_bearer(account.id, token), 400, "unauthorized_client")
    assert "jwt-bearer" in body["error_description"]
    assertion = authz.client_assertion(account.id, "ES256", "ec-p256")
    assert authz.client_credentials(assertion).status_code == 200


def test_jwt_bearer_require_aud(authz: Authz, make_account: Callable[..., Account]) -> None:
    """With jwt_bearer 'require_aud' a token without aud (a campaign token) is invalid_grant
    TOKEN_INVALID_CLAIMS; one whose aud names the token endpoint buys a bearer."""
    account = make_account(policy=TokenPolicy(jwt_bearer="require_aud"))
    campaign_token = sign(claims(), "ES256", "ec-p256")
    body = assert_oauth_error(
        authz.jwt_bearer(account.id, campaign_token), 400, "invalid_grant", "TOKEN_INVALID_CLAIMS"
    )
    assert "aud" in body["error_description"]
    exchange_token = sign(claims(aud=authz.token_endpoint), "ES256", "ec-p256")
    assert authz.jwt_bearer(account.id, exchange_token).status_code == 200


# -- what a caller not yet authenticated learns of an account (issue 13, finding 10) -------

#: Words that would tell a caller the account's settings: its algorithms, method, keys.
_SETTINGS_WORDS = ("RS256", "RS384", "[", "kid", "JWKS", "jwks")


#: What an unauthenticated caller hears of any signature refusal (issue 13 finding 10).
NOT_ACCEPTED = "the token's alg or signature is not accepted for this account"


@pytest.fixture
def two_algs(make_account: Callable[..., Account]) -> Account:
    return make_account(algorithms=("RS256", "RS384"), key="rsa-2048")


@pytest.mark.parametrize("grant", ["jwt-bearer", "client_credentials"])
def test_refused_alg_keeps_the_account_algorithms_private(
    authz: Authz, two_algs: Account, grant: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A token in an algorithm the account does not allow, sent under its client_id, hears
    the same sentence as one in an allowed alg with a bad signature (two answers would let
    anyone rebuild the list one alg per request); the allowed ones stay in our log."""
    caplog.set_level(logging.INFO, logger="shared.server.token_service")
    if grant == "jwt-bearer":
        answer = authz.jwt_bearer(two_algs.id, sign(claims(), "ES256", "ec-p256"))
        expected = (400, "invalid_grant")
    else:
        assertion = authz.client_assertion(two_algs.id, "ES256", "ec-p256")
        answer = authz.client_credentials(assertion, client_id=two_algs.id)
        expected = (401, "invalid_client")
    body = assert_oauth_error(answer, *expected, "TOKEN_INVALID_SIGNATURE")
    description = body["error_description"]
    assert description.endswith(NOT_ACCEPTED), description
    assert not any(word in description for word in _SETTINGS_WORDS), description
    if grant == "jwt-bearer":  # an allowed alg, the wrong key: the very same words
        other = authz.jwt_bearer(two_algs.id, sign(claims(), "RS256", "rsa-2048-other"))
        allowed = assert_oauth_error(other, 400, "invalid_grant", "TOKEN_INVALID_SIGNATURE")
        assert allowed["error_description"] == description
    assert f"account {two_algs.id}: " in caplog.text
    assert "['RS256', 'RS384']" in caplog.text


def test_jwks_account_method_stays_private(
    authz: Authz, make_account: Callable[..., Account]
) -> None:
    """A JWKS account's token without a kid says the signature does not verify, not that
    the account validates through a JWKS (its method is its owner's business)."""
    account = make_account(
        "jwks", algorithms=("ES256",), jwks_uri="https://keys.example.com/jwks.json"
    )
    body = assert_oauth_error(
        authz.jwt_bearer(account.id, sign(claims(), "ES256", "ec-p256")),
        400,
        "invalid_grant",
        "TOKEN_INVALID_SIGNATURE",
    )
    description = body["error_description"]
    assert description.endswith(NOT_ACCEPTED)
    assert not any(word in description for word in _SETTINGS_WORDS), description


@pytest.mark.parametrize("grant", ["jwt-bearer", "client_credentials"])
def test_empty_assertion_says_so(authz: Authz, ec: Account, grant: str) -> None:
    """An empty assertion is invalid_request TOKEN_EMPTY naming the parameter (RFC 6749
    §3.1: an empty parameter is one not sent); a blank one is refused as an empty token
    (issue 13, finding 11)."""
    if grant == "jwt-bearer":
        answer, name = authz.jwt_bearer(ec.id, ""), "assertion"
        blank, refused = authz.jwt_bearer(ec.id, "   "), (400, "invalid_grant")
    else:
        answer, name = authz.client_credentials("", client_id=ec.id), "client_assertion"
        blank, refused = authz.client_credentials("   ", client_id=ec.id), (401, "invalid_client")
    body = assert_oauth_error(answer, 400, "invalid_request", "TOKEN_EMPTY")
    assert body["error_description"].startswith(f"{name} is empty: send "), body
    body = assert_oauth_error(blank, *refused, "TOKEN_EMPTY")
    assert body["error_description"].endswith("the token is empty (only whitespace)"), body


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        ("Basic YWNtZTpzZWNyZXQ=", 'Basic realm="authz-api"'),
        ("Bearer abc", 'Bearer realm="authz-api"'),
    ],
    ids=["basic", "bearer"],
)
def test_header_authentication_is_invalid_client_with_challenge(
    authz: Authz, ec: Account, authorization: str, challenge: str
) -> None:
    """HTTP Basic (client_secret_basic) or any Authorization header on /oauth/token is 401
    invalid_client with WWW-Authenticate in the client's scheme (RFC 6749 §5.2), even with
    an otherwise good request; the description names the client assertion we support."""
    response = authz.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": ec.id},
        headers={"Authorization": authorization},
    )
    body = assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == challenge
    assert "client assertion" in body["error_description"]
    good = authz.client_assertion(ec.id, "ES256", "ec-p256")
    refused = authz.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": good,
        },
        headers={"Authorization": authorization},
    )
    assert_oauth_error(refused, 401, "invalid_client")


def test_request_without_content_type_says_what_to_send(authz: Authz) -> None:
    """An empty POST without Content-Type names the form encoding to use, not 'nothing'."""
    response = authz.http.post("/oauth/token", content=b"")
    body = assert_oauth_error(response, 400, "invalid_request")
    assert body["error_description"] == (
        "the request has no Content-Type: send the parameters as application/x-www-form-urlencoded"
    )
