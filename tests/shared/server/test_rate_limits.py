"""RateLimiter: a token bucket per key, with Retry-After times and bounded memory."""

from __future__ import annotations

import math
import sys
import threading

import pytest

from shared.server.rate_limits import RateLimiter


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_refused_with_retry_after() -> None:
    """``burst`` requests pass at once; the next is refused for about 1/rate seconds."""
    limiter = RateLimiter(2.0, 3, clock=Clock())
    assert [limiter.acquire("acme") for _ in range(3)] == [None, None, None]
    retry_after = limiter.acquire("acme")
    assert retry_after == pytest.approx(0.5)
    assert limiter.acquire("acme") == pytest.approx(0.5)


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    """Tokens come back at ``rate`` a second, and never more than ``burst`` accumulate."""
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    for _ in range(3):
        limiter.acquire("acme")
    clock.now += 0.2
    assert limiter.acquire("acme") == pytest.approx(0.3)
    clock.now += 0.3
    assert limiter.acquire("acme") is None
    assert limiter.acquire("acme") == pytest.approx(0.5)
    clock.now += 3600
    assert [limiter.acquire("acme") for _ in range(4)][:3] == [None, None, None]
    assert limiter.acquire("acme") is not None


def test_keys_have_their_own_buckets() -> None:
    """One account exhausting its bucket does not limit another."""
    limiter = RateLimiter(1.0, 2, clock=Clock())
    assert [limiter.acquire("acme") for _ in range(3)][2] is not None
    assert [limiter.acquire("globex") for _ in range(2)] == [None, None]


def test_zero_rate_disables_the_limit() -> None:
    """``rate=0`` allows every request and keeps no state."""
    limiter = RateLimiter(0.0, 1, clock=Clock())
    assert all(limiter.acquire(f"k{i % 3}") is None for i in range(1000))
    assert len(limiter) == 0


def test_least_recently_used_key_is_evicted() -> None:
    """At ``max_keys`` a new key evicts the one unused longest, not the oldest inserted."""
    limiter = RateLimiter(1.0, 1, clock=Clock(), max_keys=2)
    assert limiter.acquire("a") is None
    assert limiter.acquire("b") is None
    assert limiter.acquire("a") is not None  # "a" is now the most recently used
    assert limiter.acquire("c") is None
    assert len(limiter) == 2
    assert limiter.acquire("a") is not None  # kept: still exhausted
    assert limiter.acquire("b") is None  # evicted: back with a full bucket
    assert len(limiter) == 2


def test_memory_stays_bounded_under_many_keys() -> None:
    """However many keys arrive, at most ``max_keys`` buckets are kept."""
    limiter = RateLimiter(1.0, 5, clock=Clock(), max_keys=100)
    for i in range(10_000):
        limiter.acquire(f"k{i}")
    assert len(limiter) == 100


def test_a_clock_stepping_back_neither_adds_nor_drains_tokens() -> None:
    """Time going backwards leaves the bucket as it was."""
    clock = Clock()
    limiter = RateLimiter(1.0, 2, clock=clock)
    limiter.acquire("acme")
    clock.now -= 100
    assert limiter.acquire("acme") is None
    assert limiter.acquire("acme") == pytest.approx(1.0)


def test_concurrent_requests_never_exceed_the_burst() -> None:
    """Threads hammering one key with the clock frozen get exactly ``burst`` passes."""
    limiter = RateLimiter(1.0, 50, clock=Clock())
    allowed = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(100):
            if limiter.acquire("acme") is None:
                with lock:
                    allowed[0] += 1

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work) for _ in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(switch)
    assert allowed[0] == 50


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"),
    [(math.inf, 1, 10), (math.nan, 1, 10), (1.0, 0, 10), (1.0, 1, 0)],
    ids=["infinite-rate", "nan-rate", "zero-burst", "zero-keys"],
)
def test_bad_parameters_are_refused(rate: float, burst: int, max_keys: int) -> None:
    """A rate that is not a finite number, a burst or key bound below one, is refused."""
    with pytest.raises(ValueError, match=r"rate|burst|max_keys"):
        RateLimiter(rate, burst, max_keys=max_keys)


def test_a_call_may_name_its_own_rate_and_burst() -> None:
    """A key's rate and burst given with the call (an account's own limits) replace the
    defaults: its bucket starts at that burst, refills at that rate, a rate of 0 lifts the
    limit, and a lowered burst cuts a fuller bucket down at once."""
    clock = Clock()
    limiter = RateLimiter(1.0, 2, clock=clock)
    assert [limiter.acquire("big", rate=10.0, burst=5) for _ in range(5)] == [None] * 5
    assert limiter.acquire("big", rate=10.0, burst=5) == pytest.approx(0.1)
    assert all(limiter.acquire("free", rate=0.0) is None for _ in range(100))
    clock.now += 3600
    assert limiter.acquire("big", rate=10.0, burst=1) is None  # full, but only 1 now
    assert limiter.acquire("big", rate=10.0, burst=1) == pytest.approx(0.1)
    assert [limiter.acquire("acme") for _ in range(3)][2] == pytest.approx(1.0)  # defaults
