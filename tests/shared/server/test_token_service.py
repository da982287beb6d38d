"""TokenService on a real OpenBao: the order of its checks, its budgets, its replay store."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared import Account, Vault, Verifier
from shared.server.bearer_issuer import BearerIssuer
from shared.server.oauth_error import OAuthError
from shared.server.rate_limits import RateLimiter
from shared.server.replay_store import MemoryReplayStore
from shared.server.token_service import TokenService
from shared.wire import CLIENT_ASSERTION_TYPE, CLIENT_CREDENTIALS
from tests.support.tokens import sign

ISSUER = "https://authz.test"
TOKEN_ENDPOINT = f"{ISSUER}/oauth/token"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_assertion(account_id: str, **overrides: Any) -> str:
    """A fresh ES256 client assertion for ``account_id`` (new jti each call)."""
    now = int(time.time())
    body = {
        "iss": account_id,
        "sub": account_id,
        "aud": TOKEN_ENDPOINT,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **overrides,
    }
    return sign(body, "ES256", "ec-p256")


def credentials(assertion: str) -> dict[str, str]:
    return {
        "grant_type": CLIENT_CREDENTIALS,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }


@pytest.fixture
def ec(make_account: Callable[..., Account]) -> Account:
    return make_account(algorithms=("ES256",), key="ec-p256")


def service(vault: Vault, replay: MemoryReplayStore, limiter: RateLimiter) -> TokenService:
    bearers = BearerIssuer(vault, issuer=ISSUER, audience="crypto-api")
    return TokenService(Verifier(vault), bearers, replay, limiter, token_endpoint=TOKEN_ENDPOINT)


def test_throttled_client_assertions_leave_no_replay_record(vault: Vault, ec: Account) -> None:
    """Client assertions refused with 429 are not recorded in the in-memory replay store."""
    replay = MemoryReplayStore()
    tokens = service(vault, replay, RateLimiter(0.001, 1, clock=Clock()))
    tokens.exchange(credentials(client_assertion(ec.id)))
    for _ in range(5):
        with pytest.raises(OAuthError) as refused:
            tokens.exchange(credentials(client_assertion(ec.id)))
        assert refused.value.error == "slow_down"
    assert len(replay) == 1


def test_throttled_client_assertion_can_be_sent_again(vault: Vault, ec: Account) -> None:
    """An assertion refused with 429 is accepted when resent once the budget refilled."""
    clock = Clock()
    tokens = service(vault, MemoryReplayStore(), RateLimiter(1.0, 1, clock=clock))
    tokens.exchange(credentials(client_assertion(ec.id)))
    assertion = client_assertion(ec.id)
    with pytest.raises(OAuthError) as refused:
        tokens.exchange(credentials(assertion))
    assert refused.value.error == "slow_down"
    assert refused.value.retry_after == 1
    clock.now += 1.0
    assert tokens.exchange(credentials(assertion)).access_token


def test_replayed_assertions_do_not_spend_the_budget(vault: Vault, ec: Account) -> None:
    """Replays of a used assertion are refused as replays without spending the account's
    budget: whoever saw one assertion cannot lock the customer out with it."""
    tokens = service(vault, MemoryReplayStore(), RateLimiter(0.001, 2, clock=Clock()))
    used = client_assertion(ec.id)
    tokens.exchange(credentials(used))
    for _ in range(5):
        with pytest.raises(OAuthError) as refused:
            tokens.exchange(credentials(used))
        assert (refused.value.error, refused.value.code) == (
            "invalid_client",
            "TOKEN_INVALID_CLAIMS",
        )
    assert tokens.exchange(credentials(client_assertion(ec.id))).access_token


class _Forgetting(RateLimiter):
    """An address limit whose awaited answer comes after the account left the cache (what a
    slow Redis and a pub/sub invalidation can do together)."""

    def __init__(self, verifier: Verifier, account_id: str) -> None:
        super().__init__(0, 1)
        self.verifier, self.account_id = verifier, account_id

    async def acquire_async(self, key: str, cost: int = 1, **limits: Any) -> float | None:
        self.verifier.forget(self.account_id)
        return None


def test_an_entry_gone_during_an_await_is_read_off_the_event_loop(
    vault: Vault, ec: Account
) -> None:
    """exchange_async re-checks its caches after the address limit's await: the account is
    then looked up (and reloaded) from a worker thread, never on the loop, and the exchange
    succeeds."""
    verifier = Verifier(vault)
    bearers = BearerIssuer(vault, issuer=ISSUER, audience="crypto-api")
    tokens = TokenService(
        verifier,
        bearers,
        MemoryReplayStore(),
        RateLimiter(0, 1),
        token_endpoint=TOKEN_ENDPOINT,
        address_limiter=_Forgetting(verifier, ec.id),
    )
    params = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_id": ec.id,
        "assertion": sign(
            {"sub": "p-1", "campaignId": "1", "exp": int(time.time()) + 60}, "ES256", "ec-p256"
        ),
    }
    tokens.exchange(params)  # caches warm
    assert tokens.exchanges_inline(params)
    reads: list[str] = []
    original = verifier.active_account

    def active_account(account_id: str, **kwargs: Any) -> Any:
        reads.append(threading.current_thread().name)
        return original(account_id, **kwargs)

    verifier.active_account = active_account  # type: ignore[method-assign]

    async def main() -> tuple[Any, str]:
        issued = await tokens.exchange_async(params, client_address="127.0.0.9")
        return issued, threading.current_thread().name

    issued, loop_thread = asyncio.run(main())
    assert issued.access_token.count(".") == 2
    assert reads, "the forgotten account was read again"
    assert loop_thread not in reads
