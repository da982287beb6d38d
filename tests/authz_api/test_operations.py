"""Rate limit, outages, readiness, signing-key rotation, metrics and logs of the
Authorization API, over real HTTP."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import hvac
import msgspec
import pytest
from jwcrypto import jwk, jwt

from shared import Account, AccountStore, PublicKeyValidation, Settings, Vault
from shared.ops.bootstrap import bootstrap
from shared.vault.layout import AUTHZ_SIGNING_KEY
from shared.web.access_log import JsonFormatter
from tests.support.access_log import access_lines
from tests.support.authz import Authz, assert_oauth_error, serve
from tests.support.openbao import DevServer
from tests.support.tokens import b64, claims, pem, sign, unb64


@pytest.fixture
def ec(make_account: Callable[..., Account]) -> Account:
    return make_account(algorithms=("ES256",), key="ec-p256")


def test_rate_limit_per_account(serve_authz: Callable[..., Any], ec: Account) -> None:
    """Past its jwt-bearer burst an account gets 429 slow_down with Retry-After; others are
    not slowed."""
    token = sign(claims(), "ES256", "ec-p256")
    with serve_authz(jwt_bearer_rate_per_second=0.5, jwt_bearer_rate_burst=2) as authz:
        assert [authz.jwt_bearer(ec.id, token).status_code for _ in range(2)] == [200, 200]
        limited = authz.jwt_bearer(ec.id, token)
        assert_oauth_error(limited, 429, "slow_down", "RATE_LIMITED")
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert authz.jwt_bearer("another-account", token).status_code == 401  # its own bucket


@pytest.fixture
def private_stack(settings: Settings) -> Iterator[tuple[DevServer, Authz, Account]]:
    """An Authorization API on a private OpenBao this test may stop."""
    server = DevServer().start()
    try:
        vault_settings = Settings(vault_addr=server.addr, vault_token=server.token)
        vault = Vault(vault_settings)
        bootstrap(vault)
        account = AccountStore(vault).create(
            Account(
                id="acme",
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        app_settings = msgspec.structs.replace(
            vault_settings, vault_timeout=1.0, rate_limit_per_second=0.0
        )
        with serve(app_settings) as authz:
            yield server, authz, account
    finally:
        server.stop()


def test_vault_down_means_503_with_retry_after(
    private_stack: tuple[DevServer, Authz, Account],
) -> None:
    """With Vault stopped the token endpoint and readiness answer 503 + Retry-After (no 500,
    no hang); the JWKS is still served from cache; liveness stays up."""
    server, authz, account = private_stack
    token = sign(claims(), "ES256", "ec-p256")
    assert authz.jwt_bearer(account.id, token).status_code == 200
    assert authz.http.get("/health/ready").status_code == 200
    server.stop()
    response = authz.jwt_bearer(account.id, token)
    body = assert_oauth_error(response, 503, "temporarily_unavailable", "VAULT_UNAVAILABLE")
    assert "retry" in body["error_description"]
    assert response.headers["retry-after"] == "5"
    ready = authz.http.get("/health/ready")
    assert ready.status_code == 503
    assert ready.headers["retry-after"]
    assert authz.http.get("/health/live").status_code == 200
    assert authz.http.get("/.well-known/jwks.json").status_code == 200


def test_signing_key_rotation_over_http(
    serve_authz: Callable[..., Any], ec: Account, settings: Settings
) -> None:
    """After rotating authz-signing in Vault, bearers signed before and after both verify
    against the published JWKS (independent library), and new ones use the new key."""
    token = sign(claims(), "ES256", "ec-p256")
    with serve_authz(cache_ttl=0.0) as authz:
        before = authz.jwt_bearer(ec.id, token).json()["access_token"]
        hvac.Client(url=settings.vault_addr, token=settings.vault_token).secrets.transit.rotate_key(
            AUTHZ_SIGNING_KEY
        )
        after = authz.jwt_bearer(ec.id, token).json()["access_token"]
        keyset = jwk.JWKSet.from_json(authz.http.get("/.well-known/jwks.json").text)
    kids = []
    for bearer in (before, after):
        parsed = jwt.JWT(jwt=bearer, key=keyset, algs=["ES256"])
        kids.append(json.loads(parsed.header)["kid"])
    assert kids[0] != kids[1]


def test_metrics(authz: Authz, ec: Account) -> None:
    """/metrics exposes Prometheus counters for the token endpoint."""
    authz.jwt_bearer(ec.id, sign(claims(), "ES256", "ec-p256"))
    text = authz.http.get("/metrics").text
    assert "authz_requests_total" in text
    assert 'path="/oauth/token"' in text


def test_access_log_is_json_without_tokens(
    authz: Authz, ec: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request leaves one structured access line in the JSON log (method, path,
    status, client_id) and no line or record anywhere contains the assertion or the bearer."""
    token = sign(claims(), "ES256", "ec-p256")
    with caplog.at_level(logging.INFO), access_lines() as written:
        bearer = authz.jwt_bearer(ec.id, token).json()["access_token"]
        authz.http.post("/oauth/token?assertion=" + token, data={"grant_type": "x"})
        time.sleep(0.2)  # the server's loop writes its lines at the end of its turn
    access = written.records()
    ok = next(line for line in access if line["status"] == 200)
    assert (ok["method"], ok["path"], ok["client_id"]) == ("POST", "/oauth/token", ec.id)
    assert (ok["level"], ok["msg"]) == ("info", "request")
    refused = next(line for line in access if line["status"] == 400)
    assert refused["path"] == "/oauth/token"  # without the query string
    # Every record the service wrote (httpx here is the test's own client, logging its URL).
    formatted = [JsonFormatter().format(r) for r in caplog.records if r.name != "httpx"]
    service_lines = [
        line for line in written.text.splitlines() if json.loads(line).get("logger") != "httpx"
    ]
    for text in [*formatted, *service_lines]:
        assert token not in text
        assert bearer not in text
        assert token.split(".")[2] not in text


def test_throttled_client_assertion_is_not_spent(
    serve_authz: Callable[..., Any], ec: Account
) -> None:
    """A client assertion answered 429 (with Retry-After) is accepted when sent again after
    the wait: the throttle runs before its jti is recorded."""
    with serve_authz(rate_limit_per_second=20.0, rate_limit_burst=1) as authz:
        first = authz.client_assertion(ec.id, "ES256", "ec-p256")
        assert authz.client_credentials(first).status_code == 200
        assertion = authz.client_assertion(ec.id, "ES256", "ec-p256")
        limited = authz.client_credentials(assertion)
        assert_oauth_error(limited, 429, "slow_down", "RATE_LIMITED")
        assert limited.headers["retry-after"] == "1"
        time.sleep(0.1)  # 1/rate: the bucket has one token again
        assert authz.client_credentials(assertion).status_code == 200


def test_jwt_bearer_flood_leaves_client_credentials_alone(
    serve_authz: Callable[..., Any], ec: Account
) -> None:
    """200 jwt-bearer exchanges of a campaign token (no exp) spend none of the account's
    client_credentials budget: its next 30 client_credentials calls all get 200."""
    campaign_token = sign(claims(exp=None), "ES256", "ec-p256")
    with serve_authz() as authz:  # the default budgets
        flood = [authz.jwt_bearer(ec.id, campaign_token).status_code for _ in range(200)]
        own = [
            authz.client_credentials(authz.client_assertion(ec.id, "ES256", "ec-p256"))
            for _ in range(30)
        ]
    assert [r.status_code for r in own] == [200] * 30
    assert flood.count(200) == 5  # the token's own budget (burst 5), then 429


def test_one_secure_token_has_a_small_budget(serve_authz: Callable[..., Any], ec: Account) -> None:
    """One secure token buys at most its burst of bearers (then 429 naming the assertion),
    junk with the same claims spends none of it, and another token is not slowed."""
    token = sign(claims(), "ES256", "ec-p256")
    forged = token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8)
    with serve_authz(assertion_rate_per_second=0.01, assertion_rate_burst=3) as authz:
        for _ in range(5):
            assert_oauth_error(
                authz.jwt_bearer(ec.id, forged), 400, "invalid_grant", "TOKEN_INVALID_SIGNATURE"
            )
        assert [authz.jwt_bearer(ec.id, token).status_code for _ in range(3)] == [200] * 3
        limited = assert_oauth_error(
            authz.jwt_bearer(ec.id, token), 429, "slow_down", "RATE_LIMITED"
        )
        assert "assertion" in limited["error_description"]
        other = sign(claims(sub="participant-43"), "ES256", "ec-p256")
        assert authz.jwt_bearer(ec.id, other).status_code == 200


#: The order of the P-256 group: (r, s) and (r, n - s) are both valid ECDSA signatures.
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_respelled_token_shares_its_budget(serve_authz: Callable[..., Any], ec: Account) -> None:
    """The same secure token with its ECDSA signature re-encoded as (r, n - s) still
    verifies but spends the same per-token budget; padded with whitespace it is no token
    at all (issue 18: the compact form has none), refused, spending nothing."""
    token = sign(claims(), "ES256", "ec-p256")
    head, raw = token.rsplit(".", 1)
    signature = unb64(raw)
    r, s_value = signature[:32], int.from_bytes(signature[32:], "big")
    malleated = f"{head}.{b64(r + (_P256_N - s_value).to_bytes(32, 'big'))}"
    spellings = [token, malleated]
    with serve_authz(assertion_rate_per_second=0.01, assertion_rate_burst=2) as authz:
        padded = authz.jwt_bearer(ec.id, f"  {token}\n")
        assert_oauth_error(padded, 400, "invalid_grant", "TOKEN_INVALID_FORMAT")
        assert [authz.jwt_bearer(ec.id, t).status_code for t in spellings] == [200] * 2
        for spelling in spellings:
            assert_oauth_error(authz.jwt_bearer(ec.id, spelling), 429, "slow_down", "RATE_LIMITED")
