"""Rate limits in Redis: one budget per key for every instance, on Redis's clock, in one
round trip, and a per-process fallback (or a refusal) while Redis cannot answer."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.state import Limiters, RateLimiter, RedisBuckets, RedisRateLimiter
from tests.support.redis_server import RedisServer


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A Redis of the test's own (some tests stop or freeze it)."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def _instances(
    url: str, rate: float, burst: int, retry_interval: float = 1.0
) -> list[RedisRateLimiter]:
    """Two instances' limiters: separate connections, one Redis."""
    return [
        RedisRateLimiter(RedisBuckets(url, retry_interval=retry_interval), "test", rate, burst)
        for _ in range(2)
    ]


def test_two_instances_share_one_budget(redis: RedisServer) -> None:
    """Calls alternated between two instances draw from one bucket: ``burst`` pass, the
    next is refused with about 1/rate seconds to wait, whichever instance asks."""
    one, two = _instances(redis.url, 0.5, 4)
    answers = [(one if n % 2 else two).acquire("acme") for n in range(8)]
    assert answers[:4] == [None] * 4
    waits = answers[4:]
    assert all(w is not None and 1.9 < w <= 2.0 for w in waits), waits


def test_concurrent_calls_never_overspend(redis: RedisServer) -> None:
    """64 calls at once from eight threads on two instances: exactly the burst passes
    (the script runs alone in Redis, so no two callers take the same token)."""
    one, two = _instances(redis.url, 0.001, 10)
    barrier = threading.Barrier(8)

    def worker(n: int) -> list[float | None]:
        limiter = one if n % 2 else two
        barrier.wait()
        return [limiter.acquire("acme") for _ in range(8)]

    with ThreadPoolExecutor(8) as pool:
        answers = [a for batch in pool.map(worker, range(8)) for a in batch]
    assert answers.count(None) == 10


def test_keys_and_limits_have_their_own_buckets(redis: RedisServer) -> None:
    """Another key, or another limit's name on the same key, has a full bucket."""
    buckets = RedisBuckets(redis.url)
    account = RedisRateLimiter(buckets, "account", 0.5, 1)
    batch = RedisRateLimiter(buckets, "batch", 0.5, 1)
    assert account.acquire("acme") is None
    assert account.acquire("acme") is not None
    assert account.acquire("globex") is None
    assert batch.acquire("acme") is None


def test_tokens_refill_on_redis_time(redis: RedisServer) -> None:
    """Tokens come back at ``rate`` a second (Redis's clock), never more than ``burst``."""
    one, two = _instances(redis.url, 20.0, 2)
    assert [one.acquire("k"), two.acquire("k")] == [None, None]
    assert one.acquire("k") is not None
    time.sleep(0.2)  # four tokens' worth, capped at two
    assert [two.acquire("k"), one.acquire("k")] == [None, None]
    assert two.acquire("k") is not None


def test_a_call_may_name_its_own_limits_and_cost(redis: RedisServer) -> None:
    """An account's own rate and burst replace the defaults (a lowered burst cuts a fuller
    bucket down); a cost above the burst costs the burst, so a large batch can pass."""
    limiter = RedisRateLimiter(RedisBuckets(redis.url), "test", 0.001, 100)
    assert limiter.acquire("acme", 90) is None  # 10 left of 100
    assert limiter.acquire("acme", 5, burst=3) is None  # cut to 3, costs 3 (capped)
    assert limiter.acquire("acme", burst=3) is not None
    assert limiter.acquire("big", 10_000, rate=1.0, burst=5) is None
    wait = limiter.acquire("big", 2, rate=1.0, burst=5)
    assert wait is not None
    assert 1.9 < wait <= 2.0


def test_zero_rate_disables_the_limit_and_asks_nothing(redis: RedisServer) -> None:
    """``rate=0`` allows everything and stores nothing in Redis."""
    limiter = RedisRateLimiter(RedisBuckets(redis.url), "off", 0.0, 1)
    assert all(limiter.acquire("acme") is None for _ in range(50))
    assert redis.client().keys("*") == []


def test_buckets_are_hashed_and_expire_once_full_again(redis: RedisServer) -> None:
    """The key never shows in Redis (a hash of it does), and the bucket expires once it
    would be full again, plus a second: memory follows the busy keys only."""
    limiter = RedisRateLimiter(RedisBuckets(redis.url), "test", 2.0, 4)
    limiter.acquire("203.0.113.7", 4)
    client = redis.client()
    (name,) = client.keys("*")
    assert str(name).startswith("b'ratelimit:test:")
    assert "203.0.113.7" not in str(name)
    assert 2000 < client.pttl(name) <= 3000  # 4 tokens at 2/s, plus a second


def test_a_clock_stepping_back_neither_drains_nor_refills(redis: RedisServer) -> None:
    """A bucket last counted "in the future" (a failover to a node whose clock is behind)
    gains nothing until Redis's time catches up, and loses nothing either."""
    limiter = RedisRateLimiter(RedisBuckets(redis.url), "test", 1.0, 5)
    assert limiter.acquire("acme", 5) is None
    client = redis.client()
    (name,) = client.keys("*")
    client.hset(name, mapping={"tokens": 2, "at": time.time() + 3600})
    assert limiter.acquire("acme", 2) is None
    wait = limiter.acquire("acme")
    assert wait is not None
    assert 0.9 < wait <= 1.0


def test_async_and_sync_calls_share_the_bucket(redis: RedisServer) -> None:
    """The event loop's ``acquire_async`` draws from the same bucket as ``acquire``."""
    limiter = RedisRateLimiter(RedisBuckets(redis.url), "test", 0.5, 3)

    async def run() -> list[float | None]:
        answers = [await limiter.acquire_async("acme") for _ in range(2)]
        await limiter.aclose()
        return answers

    assert asyncio.run(run()) == [None, None]
    assert limiter.acquire("acme") is None
    assert limiter.acquire("acme") is not None


def test_redis_down_falls_back_to_a_per_process_bucket(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """While Redis is down each instance limits on its own (a full bucket each), one warning
    per outage names neither keys nor the URL, and the shared budget is back once Redis
    answers."""
    redis.stop()
    one, two = _instances(redis.url, 0.001, 3, retry_interval=0.2)
    with caplog.at_level(logging.WARNING, logger="shared.state.rate_limits"):
        answers = [(one if n % 2 else two).acquire("acme") for n in range(8)]
    assert answers.count(None) == 6  # three per instance
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # one per instance (each has its own connections)
    assert all("Redis unavailable (ConnectionError)" in w for w in warnings)
    assert not any("acme" in w or "127.0.0.1" in w for w in warnings)
    redis.start()
    time.sleep(0.25)  # past retry_interval: Redis is asked again
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shared.state.rate_limits"):
        assert [one.acquire("acme") for _ in range(3)] == [None] * 3
        assert two.acquire("acme") is not None
    assert [r.getMessage() for r in caplog.records] == [
        "rate limits: Redis answers again; budgets are shared again"
    ] * 2


def test_a_frozen_redis_costs_one_timeout_per_retry_interval(redis: RedisServer) -> None:
    """A Redis that does not answer costs the first call its timeout; the calls after it,
    until ``retry_interval`` has passed, take the fallback without waiting."""
    buckets = RedisBuckets(redis.url, timeout=0.25, retry_interval=5.0)
    limiter = RedisRateLimiter(buckets, "test", 0.001, 100)
    assert limiter.acquire("acme") is None  # connected
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert limiter.acquire("acme") is None
        first = time.monotonic() - started
        started = time.monotonic()
        assert all(limiter.acquire("acme") is None for _ in range(50))
        rest = time.monotonic() - started
    finally:
        redis.process.send_signal(signal.SIGCONT)
    assert 0.2 < first < 0.8, first
    assert rest < 0.05, rest
    assert not buckets.available()


def test_a_refusing_limit_refuses_while_redis_is_down(redis: RedisServer) -> None:
    """``on_outage="refuse"``: nothing passes while Redis cannot be asked; the wait given
    is the interval until Redis is asked again."""
    redis.stop()
    buckets = RedisBuckets(redis.url, retry_interval=2.0)
    limiter = RedisRateLimiter(buckets, "strict", 10.0, 10, on_outage="refuse")
    assert [limiter.acquire("acme") for _ in range(3)] == [2.0, 2.0, 2.0]


def test_limiters_are_in_redis_only_with_a_url(redis: RedisServer) -> None:
    """Without ``REDIS_URL`` the limiters are per process; with it, in Redis."""
    assert isinstance(Limiters(None).limiter("x", 1.0, 1), RateLimiter)
    assert not Limiters(None).shared
    limiters = Limiters(redis.url)
    assert limiters.shared
    assert isinstance(limiters.limiter("x", 1.0, 1), RedisRateLimiter)
    asyncio.run(limiters.aclose())


def test_in_process_async_acquire_is_the_sync_one() -> None:
    """The per-process limiter's ``acquire_async`` draws from its one bucket."""
    limiter = RateLimiter(0.001, 2)
    assert asyncio.run(limiter.acquire_async("acme")) is None
    assert limiter.acquire("acme") is None
    assert asyncio.run(limiter.acquire_async("acme")) is not None
