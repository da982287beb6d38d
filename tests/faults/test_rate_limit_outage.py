"""The shared rate limits while their Redis is stopped, frozen or failing over
(docs/decisions.md, "Rate limits shared across instances").

Expected: every limit falls back to a per-process bucket, so two instances let two budgets
through (a degraded limit, never none and never a refusal of all traffic); no request waits
for Redis more than about one timeout (0.25 s) per second and per instance; once Redis
answers again (within a second), the instances share one budget again; after a Sentinel
failover, on the new master, which kept the buckets the old one had replicated.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from shared import Account, Settings
from shared.state import RedisBuckets, RedisRateLimiter
from shared.vault import Vault
from tests.support.authz import serve
from tests.support.rate_limits import BURST, RATE, alternate, two_authz, two_crypto, two_players
from tests.support.redis_server import RedisServer
from tests.support.sentinel import SentinelSet
from tests.support.tokens import claims, sign

#: The limiter asks Redis again this long after a failure (RedisBuckets' default).
RETRY_INTERVAL = 1.0

Send = Callable[[int], httpx.Response]


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A Redis of the test's own, which it stops, restarts and freezes."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def _token(n: int) -> str:
    return sign(claims(sub=f"p{n}"), "ES256", "ec-p256")


@contextmanager
def _two(
    api: str,
    settings: Settings,
    vault: Vault,
    account: Account,
    redis: RedisServer,
) -> Iterator[Send]:
    """Two instances of ``api`` on ``redis`` with a limit of burst 5 per account, as the
    function sending the n-th request to one of them."""
    if api == "authz":
        with two_authz(
            settings,
            redis_url=redis.url,
            rate_limit_per_second=0.0,
            jwt_bearer_rate_per_second=RATE,
            jwt_bearer_rate_burst=BURST,
        ) as pair:
            authz = pair
            yield lambda n: authz[n % 2].jwt_bearer(account.id, _token(n))
    elif api == "crypto":
        with (
            serve(settings, rate_limit_per_second=0.0) as issuer,
            two_crypto(
                settings,
                issuer,
                redis_url=redis.url,
                crypto_rate_per_second=RATE,
                crypto_rate_burst=BURST,
            ) as pair,
        ):
            bearer = pair[0].bearer(account.id)
            crypto = pair
            yield lambda n: crypto[n % 2].encrypt(bearer, _token(n))
    else:
        with two_players(
            settings,
            vault,
            account.id,
            "1001",
            redis_url=redis.url,
            player_rate_per_second=RATE,
            player_rate_burst=BURST,
        ) as pair:
            players = pair
            yield lambda n: players[n % 2].post(
                "/v1/identify", json={"account": account.id, "campaign": "1001", "token": _token(n)}
            )


@pytest.mark.parametrize("api", ["authz", "crypto", "player"])
def test_redis_stopped_then_back(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    redis: RedisServer,
    api: str,
) -> None:
    """Redis stopped: two instances let two budgets through (per-process buckets), none
    refused otherwise; Redis back (empty: a restart without persistence refills the
    buckets once): one budget again."""
    account = make_account()
    with _two(api, settings, vault, account, redis) as send:
        assert alternate(send).within(1)
        redis.stop()
        down = alternate(send)
        assert down.within(2), (down, down.budgets(2))
        redis.start()
        time.sleep(RETRY_INTERVAL + 0.1)
        back = alternate(send)
        assert back.within(1), (back, back.budgets(1))


@pytest.mark.parametrize("api", ["authz", "crypto", "player"])
def test_redis_frozen(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    redis: RedisServer,
    api: str,
) -> None:
    """Redis frozen (SIGSTOP): answers keep coming, at most one per instance and per
    second waits about one Redis timeout; per-process budgets meanwhile."""
    account = make_account()
    with _two(api, settings, vault, account, redis) as send:
        assert redis.process is not None
        assert alternate(send).within(1)
        redis.process.send_signal(signal.SIGSTOP)
        try:
            slowest = 0.0

            def timed(n: int) -> httpx.Response:
                nonlocal slowest
                started = time.monotonic()
                response = send(n)
                slowest = max(slowest, time.monotonic() - started)
                return response

            frozen = alternate(timed)
        finally:
            redis.process.send_signal(signal.SIGCONT)
        print(f"{api}: slowest answer {slowest:.3f} s while Redis was frozen")
        assert frozen.within(2), (frozen, frozen.budgets(2))
        assert slowest < 1.0, slowest


def test_a_sentinel_failover(tmp_path: Path) -> None:
    """``REDIS_URL=redis+sentinel://``, the master SIGKILLed: two instances' limiters keep
    answering (per-process buckets, each call bounded) until a replica is promoted; then
    they share one budget again, on the new master, which the replica kept: a budget spent
    before the failover stays spent."""
    with SentinelSet(tmp_path / "redis") as sentinels:
        one, two = (
            RedisRateLimiter(RedisBuckets(sentinels.url), "failover", 0.001, BURST)
            for _ in range(2)
        )
        assert [(one, two)[n % 2].acquire("acme") for n in range(BURST)] == [None] * BURST
        assert one.acquire("acme") is not None
        old = sentinels.master_port()
        assert old is not None
        # The replicas have the bucket before the master goes (redis-py leaves it untyped).
        sentinels.node(old).execute_command("WAIT", 2, 2000)  # type: ignore[no-untyped-call]
        sentinels.kill_master()
        killed = time.monotonic()
        answers: list[tuple[float, float | None]] = []
        promoted: float | None = None
        while promoted is None or time.monotonic() < promoted + RETRY_INTERVAL + 0.5:
            for limiter in (one, two):
                started = time.monotonic()
                wait = limiter.acquire("acme")
                answers.append((time.monotonic() - started, wait))
            if promoted is None and sentinels.master_port() not in (None, old):
                promoted = time.monotonic()
            time.sleep(0.05)
            assert time.monotonic() - killed < 30, "no promotion"
        after = [one.acquire("acme"), two.acquire("acme")]
    assert promoted is not None
    slowest = max(seconds for seconds, _ in answers)
    passed = sum(1 for _, wait in answers if wait is None)
    print(
        f"failover: promoted {promoted - killed:.1f} s after the kill; {len(answers)} calls, "
        f"{passed} passed (per-process buckets), slowest {slowest:.3f} s"
    )
    assert slowest < 1.5, slowest
    assert passed <= 2 * BURST  # at most each instance's own bucket
    assert all(wait is not None for wait in after), after  # the new master kept the bucket
