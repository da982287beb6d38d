"""Two instances of each API on one Redis enforce one budget per key (issue 18); without
``REDIS_URL`` each instance has its own (two budgets), as documented.

Each test alternates requests between two real instances (uvicorn, real OpenBao, real
Redis) of a limit of burst 5 refilled every 10 s, and counts what passed: one burst (plus
what refilled during the run) with Redis, two without.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shared import Account, Settings
from shared.vault import Vault
from tests.support.authz import serve
from tests.support.rate_limits import (
    BURST,
    RATE,
    alternate,
    two_authz,
    two_crypto,
    two_players,
)
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign

#: Parametrized over: with Redis (one budget for both instances) and without (two).
SHARING = pytest.mark.parametrize(
    ("shared", "budgets"), [(True, 1), (False, 2)], ids=["redis", "per-process"]
)
#: The authz limits, each alone (the others off): settings, and the per-address one 4 times.
AUTHZ_LIMITS: dict[str, dict[str, Any]] = {
    "client_credentials": {
        "rate_limit_per_second": RATE,
        "rate_limit_burst": BURST,
        "jwt_bearer_rate_per_second": 0.0,
        "assertion_rate_per_second": 0.0,
    },
    "jwt_bearer": {
        "rate_limit_per_second": 0.0,
        "jwt_bearer_rate_per_second": RATE,
        "jwt_bearer_rate_burst": BURST,
        "assertion_rate_per_second": 0.0,
    },
    "assertion": {
        "rate_limit_per_second": 0.0,
        "jwt_bearer_rate_per_second": 0.0,
        "assertion_rate_per_second": RATE,
        "assertion_rate_burst": BURST,
    },
    # The per-address limit is four times the per-account one: a quarter of it here.
    "address": {
        "rate_limit_per_second": RATE / 4,
        "rate_limit_burst": 2,
        "jwt_bearer_rate_per_second": 0.0,
        "assertion_rate_per_second": 0.0,
    },
}


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A Redis of the test's own: the per-address buckets (127.0.0.1) are not shared with
    other tests'."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@SHARING
@pytest.mark.parametrize("limit", sorted(AUTHZ_LIMITS))
def test_two_authz_instances(
    settings: Settings,
    make_account: Callable[..., Account],
    redis: RedisServer,
    limit: str,
    shared: bool,
    budgets: int,
) -> None:
    """Each token-endpoint limit (per account for client_credentials and jwt-bearer, per
    secure token, per address) lets one budget through two instances on one Redis, and
    one per instance without it."""
    account = make_account()
    one_token = sign(claims(), "ES256", "ec-p256")
    redis_url = redis.url if shared else None
    with two_authz(settings, redis_url=redis_url, **AUTHZ_LIMITS[limit]) as instances:

        def send(n: int) -> httpx.Response:
            authz = instances[n % 2]
            if limit == "client_credentials":
                return authz.client_credentials(
                    authz.client_assertion(account.id, "ES256", "ec-p256")
                )
            if limit == "address":  # junk: refused (400) once the address is charged
                return authz.token(grant_type="junk")
            token = (
                one_token if limit == "assertion" else sign(claims(sub=f"p{n}"), "ES256", "ec-p256")
            )
            return authz.jwt_bearer(account.id, token)

        # The per-address burst is 8: 24 requests show two of them.
        tally = alternate(send, 24, passed=400) if limit == "address" else alternate(send)
    burst = 8 if limit == "address" else BURST
    assert tally.within(budgets, RATE, burst), (tally, tally.budgets(budgets, RATE, burst))


@SHARING
@pytest.mark.parametrize("limit", ["single", "batch", "jwks"])
def test_two_crypto_instances(
    settings: Settings,
    make_account: Callable[..., Account],
    redis: RedisServer,
    limit: str,
    shared: bool,
    budgets: int,
) -> None:
    """The Crypto API's per-account limits (single calls, batch tokens) and the key sets'
    per-address limit: one budget through two instances on one Redis, else one each."""
    account = make_account()
    limits = {
        "single": {"crypto_rate_per_second": RATE, "crypto_rate_burst": BURST},
        "batch": {"crypto_batch_rate_per_second": RATE, "crypto_batch_rate_burst": BURST},
        "jwks": {"crypto_jwks_rate_per_second": RATE, "crypto_jwks_rate_burst": BURST},
    }[limit]
    redis_url = redis.url if shared else None
    with (
        serve(settings, rate_limit_per_second=0.0) as authz,
        two_crypto(settings, authz, redis_url=redis_url, **limits) as instances,
    ):
        bearer = instances[0].bearer(account.id)

        def send(n: int) -> httpx.Response:
            crypto = instances[n % 2]
            token = sign(claims(sub=f"p{n}"), "ES256", "ec-p256")
            if limit == "single":
                return crypto.encrypt(bearer, token)
            if limit == "batch":
                return crypto.batch(bearer, [token])
            return crypto.http.get(f"/v1/accounts/{account.id}/jwks.json")

        tally = alternate(send)
    assert tally.within(budgets), (tally, tally.budgets(budgets))


def test_two_player_instances(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    redis: RedisServer,
    account_id: str,
) -> None:
    """The player's per-account limit (it always has Redis): one budget for the account's
    identifications through two instances."""
    make_account()
    with two_players(
        settings,
        vault,
        account_id,
        "1001",
        redis_url=redis.url,
        player_rate_per_second=RATE,
        player_rate_burst=BURST,
    ) as instances:

        def send(n: int) -> httpx.Response:
            body = {
                "account": account_id,
                "campaign": "1001",
                "token": sign(claims(sub=f"p{n}"), "ES256", "ec-p256"),
            }
            return instances[n % 2].post("/v1/identify", json=body)

        tally = alternate(send)
    assert tally.within(1), (tally, tally.budgets(1))
