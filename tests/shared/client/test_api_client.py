"""The API client against both APIs served over real HTTP, on the session OpenBao."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from joserfc.jwk import OctKey

from shared import Account, Settings, Verifier
from shared.client import (
    ApiClient,
    ApiError,
    ApiRateLimited,
    ApiRefused,
    ApiUnavailable,
    ClientAssertionGrant,
    Grant,
    JwtBearerGrant,
    Pause,
    RetryPolicy,
    call_with_retries,
)
from shared.wire import Encrypted, ItemError
from tests.support.apis import Apis, HmacAccount, make_hmac_account, serve_apis
from tests.support.authz import Authz
from tests.support.crypto import serve_crypto
from tests.support.openbao import free_port

FAST = RetryPolicy(retries=2, base_delay=0.05, max_delay=0.2)


@pytest.fixture(scope="module")
def apis(settings: Settings, vault: object) -> Iterator[Apis]:
    with serve_apis(settings, crypto_rate_per_second=0.0) as running:
        yield running


@pytest.fixture
def hmac_account(
    make_account: Callable[..., Account], hmac_secret: bytes, tmp_path: Path
) -> HmacAccount:
    return make_hmac_account(make_account, hmac_secret, tmp_path)


def client_for(apis: Apis, account: HmacAccount, grant: Grant, **kwargs: Any) -> ApiClient:
    return ApiClient(
        authz_url=apis.authz_url,
        crypto_url=apis.crypto_url,
        account_id=account.id,
        grant=grant,
        **kwargs,
    )


def assertion_grant(account: HmacAccount) -> ClientAssertionGrant:
    return ClientAssertionGrant(OctKey.import_key(account.secret), "HS256")


class CountingGrant:
    """A real grant, counting the token requests it makes."""

    def __init__(self, inner: Grant) -> None:
        self.inner = inner
        self.requests = 0

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        for form in self.inner.forms(client_id, token_endpoint):
            self.requests += 1
            yield form


def test_jwt_bearer_encrypt_round_trip(
    apis: Apis, hmac_account: HmacAccount, verifier: Verifier
) -> None:
    """With the token itself as jwt-bearer assertion, encrypt returns a JWE under the
    account's key that the player's verifier opens to the same claims."""
    token = hmac_account.token(profile={"email": "ada@example.com"})
    with client_for(apis, hmac_account, JwtBearerGrant([token])) as client:
        result = client.encrypt(token)
    assert result.kid == f"{hmac_account.id}/1"
    opened = verifier.verify(result.token, account_id=hmac_account.id, campaign_id="1001")
    assert opened.encrypted is True
    assert opened.profile == {"email": "ada@example.com"}


def test_client_assertion_batch_per_item_results(
    apis: Apis, hmac_account: HmacAccount, verifier: Verifier
) -> None:
    """With a client assertion, a batch answers each token in order: JWEs for good ones,
    the code for refused ones; one bearer serves every call."""
    grant = CountingGrant(assertion_grant(hmac_account))
    expired = hmac_account.token(iat=1, exp=2)
    with client_for(apis, hmac_account, grant) as client:
        results = client.encrypt_batch([hmac_account.token(sub="a"), "garbage", expired])
        client.encrypt(hmac_account.token())
    assert grant.requests == 1
    assert isinstance(results[0], Encrypted)
    assert verifier.verify(results[0].token, account_id=hmac_account.id, campaign_id="1001")
    assert results[1:] == [
        ItemError(code="TOKEN_INVALID_FORMAT", detail=results[1].detail),  # type: ignore[union-attr]
        ItemError(code="TOKEN_EXPIRED", detail=results[2].detail),  # type: ignore[union-attr]
    ]


def test_oauth_errors_carry_our_code(apis: Apis, hmac_account: HmacAccount) -> None:
    """A refused exchange is ApiRefused with the token code from the OAuth error (or the
    OAuth error itself when there is none), its status and OAuth ``error``."""
    expired = hmac_account.token(iat=1, exp=2)
    client = client_for(apis, hmac_account, JwtBearerGrant([expired]))
    with client, pytest.raises(ApiRefused) as refused:
        client.bearer()
    exc = refused.value
    assert (exc.code, exc.status, exc.oauth_error) == ("TOKEN_EXPIRED", 400, "invalid_grant")
    assert exc.retryable is False
    assert "expired" in exc.detail

    unknown = ApiClient(
        authz_url=apis.authz_url,
        crypto_url=apis.crypto_url,
        account_id="no-such-account",
        grant=assertion_grant(hmac_account),
    )
    with unknown, pytest.raises(ApiRefused) as refused:
        unknown.encrypt(hmac_account.token())
    assert (refused.value.code, refused.value.status) == ("INVALID_CLIENT", 401)


def test_jwt_bearer_candidates_refused_are_skipped(apis: Apis, hmac_account: HmacAccount) -> None:
    """Of several jwt-bearer candidates, refused ones are dropped and the first accepted
    one is kept for later exchanges."""
    grant = JwtBearerGrant(["garbage", hmac_account.token(exp=2, iat=1), hmac_account.token()])
    with client_for(apis, hmac_account, grant) as client:
        assert client.bearer()
    assert len(list(grant.forms(hmac_account.id, "x"))) == 1


def test_problem_json_mapped(apis: Apis, hmac_account: HmacAccount) -> None:
    """A token the Crypto API refuses (422 problem+json) is ApiRefused with its code."""
    with client_for(apis, hmac_account, assertion_grant(hmac_account)) as client:
        with pytest.raises(ApiRefused) as refused:
            client.encrypt("not.a.token")
        with pytest.raises(ApiRefused) as bad_signature:
            client.encrypt(hmac_account.token() + "x")
    assert (refused.value.code, refused.value.status) == ("TOKEN_INVALID_FORMAT", 422)
    assert bad_signature.value.code == "TOKEN_INVALID_SIGNATURE"


def test_rate_limit_429_is_waited_out(
    settings: Settings, apis: Apis, hmac_account: HmacAccount
) -> None:
    """A 429 becomes ApiRateLimited with Retry-After; call_with_retries waits it out
    (without spending a retry) and succeeds."""
    with serve_crypto(
        settings, apis.authz, crypto_rate_per_second=2.0, crypto_rate_burst=1
    ) as limited:
        client = ApiClient(
            authz_url=apis.authz_url,
            crypto_url=limited.url,
            account_id=hmac_account.id,
            grant=assertion_grant(hmac_account),
        )
        with client:
            client.encrypt(hmac_account.token())
            with pytest.raises(ApiRateLimited) as limited_exc:
                client.encrypt(hmac_account.token())
            assert limited_exc.value.code == "RATE_LIMITED"
            assert limited_exc.value.retry_after is not None
            assert limited_exc.value.retry_after >= 1
            waits: list[tuple[str, float]] = []
            started = time.monotonic()
            result = call_with_retries(
                lambda: client.encrypt(hmac_account.token()),
                RetryPolicy(retries=0),
                on_wait=lambda exc, delay: waits.append((exc.code, delay)),
            )
    assert result.kid == f"{hmac_account.id}/1"
    assert [code for code, _ in waits] == ["RATE_LIMITED"] * len(waits)
    assert waits
    assert time.monotonic() - started >= 0.9


def test_unreachable_api_is_retryable_then_given_up(hmac_account: HmacAccount) -> None:
    """A refused connection is ApiUnavailable (API_UNREACHABLE); call_with_retries tries
    ``retries`` more times, then raises it."""
    url = f"http://127.0.0.1:{free_port()}"
    client = ApiClient(
        authz_url=url, crypto_url=url, account_id=hmac_account.id, grant=JwtBearerGrant(["x"])
    )
    attempts = []
    with client, pytest.raises(ApiUnavailable) as unavailable:
        call_with_retries(
            lambda: attempts.append(1) or client.encrypt("x"),  # type: ignore[func-returns-value]
            FAST,
        )
    assert unavailable.value.code == "API_UNREACHABLE"
    assert unavailable.value.retryable is True
    assert len(attempts) == FAST.retries + 1


def test_timeout_is_retryable(apis: Apis, hmac_account: HmacAccount) -> None:
    """A Crypto API that accepts the connection but never answers is API_TIMEOUT after
    the client's timeout (a fault a healthy server cannot produce: a bare socket)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        client = ApiClient(
            authz_url=apis.authz_url,
            crypto_url=f"http://127.0.0.1:{port}",
            account_id=hmac_account.id,
            grant=assertion_grant(hmac_account),
            timeout=0.5,
        )
        started = time.monotonic()
        with client, pytest.raises(ApiUnavailable) as timed_out:
            client.encrypt(hmac_account.token())
    assert timed_out.value.code == "API_TIMEOUT"
    assert 0.4 < time.monotonic() - started < 5


def test_outage_503_carries_retry_after(
    settings: Settings, apis: Apis, hmac_account: HmacAccount
) -> None:
    """A Crypto API that cannot fetch the authz JWKS answers 503 problem+json: ApiUnavailable
    with its code and Retry-After."""
    nowhere = Authz(f"http://127.0.0.1:{free_port()}", issuer=apis.authz.issuer)
    with serve_crypto(settings, nowhere) as blind:
        client = ApiClient(
            authz_url=apis.authz_url,
            crypto_url=blind.url,
            account_id=hmac_account.id,
            grant=assertion_grant(hmac_account),
        )
        with client, pytest.raises(ApiUnavailable) as unavailable:
            client.encrypt(hmac_account.token())
    nowhere.http.close()
    exc = unavailable.value
    assert (exc.status, exc.code, exc.retry_after) == (503, "JWKS_UNAVAILABLE", 5.0)


def test_stale_bearer_refreshed_once(apis: Apis, hmac_account: HmacAccount) -> None:
    """A bearer the Crypto API calls invalid_token is replaced once and the call repeated
    (the stale bearer is planted: a valid-looking cache the server no longer accepts)."""
    grant = CountingGrant(assertion_grant(hmac_account))
    with client_for(apis, hmac_account, grant) as client:
        fresh = client.bearer()
        assert client._bearer is not None
        client._bearer = msgspec.structs.replace(client._bearer, token=fresh + "x")
        assert client.encrypt(hmac_account.token()).kid == f"{hmac_account.id}/1"
        assert client.bearer() != fresh + "x"
    assert grant.requests == 2


def test_bearer_refused_after_refresh_is_final(
    settings: Settings, apis: Apis, hmac_account: HmacAccount
) -> None:
    """A Crypto API that trusts another issuer refuses every bearer: one refresh, then
    ApiRefused BEARER_INVALID (401), not retryable."""
    other = Authz(apis.authz.url, issuer="http://elsewhere.example")
    with serve_crypto(settings, other) as strict:
        grant = CountingGrant(assertion_grant(hmac_account))
        client = ApiClient(
            authz_url=apis.authz_url,
            crypto_url=strict.url,
            account_id=hmac_account.id,
            grant=grant,
        )
        with client, pytest.raises(ApiRefused) as refused:
            call_with_retries(lambda: client.encrypt(hmac_account.token()), FAST)
    other.http.close()
    assert (refused.value.code, refused.value.status) == ("BEARER_INVALID", 401)
    assert grant.requests == 2


def test_pause_is_shared() -> None:
    """A hold set by one caller makes the others wait; the later hold wins."""
    now = [100.0]
    pause = Pause(clock=lambda: now[0])
    pause.hold(2.0)
    pause.hold(1.0)
    assert pause.remaining() == 2.0
    now[0] = 103.0
    assert pause.remaining() == 0.0


def test_backoff_grows_with_jitter_and_cap() -> None:
    """Back-off doubles per attempt, stays within [half, full] of its ceiling, and is
    capped by max_delay."""
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_refused_is_never_retried() -> None:
    """ApiRefused passes through call_with_retries at once."""
    calls = []

    def refuse() -> None:
        calls.append(1)
        raise ApiRefused("TOKEN_EXPIRED", "expired", status=422)

    with pytest.raises(ApiError):
        call_with_retries(refuse, FAST)
    assert calls == [1]


@pytest.mark.parametrize("url", ["http://[bad", "127.0.0.1:8300", "ftp://host/x"])
def test_malformed_url_is_refused_not_retried(url: str) -> None:
    """A URL requests cannot use is ApiRefused (API_URL_INVALID): no retry can fix it."""
    client = ApiClient(authz_url=url, crypto_url=url, account_id="a", grant=JwtBearerGrant(["x"]))
    with client, pytest.raises(ApiRefused) as refused:
        call_with_retries(lambda: client.encrypt("x"), FAST)
    assert refused.value.code == "API_URL_INVALID"
