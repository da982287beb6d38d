"""TtlCache: TTL, stale-if-error, and the back-off after a failed reload."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from shared.errors import AccountNotFound, VaultUnavailable
from shared.tokens.cache import TtlCache


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A loader that counts calls and fails on demand with a given error."""

    def __init__(self) -> None:
        self.calls = 0
        self.value = "v1"
        self.error: Exception | None = None

    def __call__(self) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.value


def make(clock: Clock) -> TtlCache[str, str]:
    return TtlCache(10.0, stale_if_error=100.0, retry_interval=5.0, clock=clock)


def test_fresh_entry_is_not_reloaded() -> None:
    """Within the TTL the loader runs once; after it, the new value is loaded."""
    clock, source = Clock(), Source()
    cache = make(clock)
    assert cache.get("k", source) == "v1"
    clock.now += 9
    assert cache.get("k", source) == "v1"
    assert source.calls == 1
    source.value = "v2"
    clock.now += 2
    assert cache.get("k", source) == "v2"
    assert source.calls == 2


def test_stale_served_on_retryable_error_then_backs_off() -> None:
    """An outage serves the stale value, and the loader is not retried for retry_interval."""
    clock, source = Clock(), Source()
    cache = make(clock)
    cache.get("k", source)
    source.error = VaultUnavailable("down")
    clock.now += 20
    assert cache.get("k", source) == "v1"
    assert source.calls == 2
    clock.now += 4  # inside the back-off: no call, no wait
    assert cache.get("k", source) == "v1"
    assert source.calls == 2
    clock.now += 2  # back-off over: it tries again
    assert cache.get("k", source) == "v1"
    assert source.calls == 3
    source.error = None
    source.value = "v2"
    clock.now += 6
    assert cache.get("k", source) == "v2"


def test_stale_window_ends() -> None:
    """Past TTL + stale_if_error the outage surfaces to the caller."""
    clock, source = Clock(), Source()
    cache = make(clock)
    cache.get("k", source)
    source.error = VaultUnavailable("down")
    clock.now += 111
    with pytest.raises(VaultUnavailable):
        cache.get("k", source)


def test_non_retryable_error_is_not_masked() -> None:
    """A definite answer (the account is gone) is never hidden behind a stale value."""
    clock, source = Clock(), Source()
    cache = make(clock)
    cache.get("k", source)
    source.error = AccountNotFound("gone")
    clock.now += 20
    with pytest.raises(AccountNotFound):
        cache.get("k", source)


def test_invalidate_forces_reload() -> None:
    """invalidate() makes the next get call the loader even within the TTL."""
    clock, source = Clock(), Source()
    cache = make(clock)
    cache.get("k", source)
    cache.invalidate("k")
    cache.get("k", source)
    assert source.calls == 2


def test_full_cache_evicts_oldest_under_concurrency() -> None:
    """At max_entries the oldest entry goes; many threads filling it never raise."""
    cache: TtlCache[int, int] = TtlCache(60.0, max_entries=50)
    errors: list[BaseException] = []

    def fill(offset: int) -> None:
        try:
            for i in range(2_000):
                cache.get(offset * 10_000 + i, lambda i=i: i)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache._entries) <= 50


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_refresh_ahead_reloads_in_background() -> None:
    """Past refresh_ahead x TTL the cached value is returned at once and a background reload
    replaces it, so callers never wait for the source while the key is in use."""
    clock, source = Clock(), Source()
    cache: TtlCache[str, str] = TtlCache(10.0, refresh_ahead=0.75, clock=clock)
    gate = threading.Event()
    cache.get("k", source)
    source.value = "v2"

    def slow_load() -> str:
        gate.wait(5)
        return source()

    clock.now += 8  # past 7.5 s: refresh ahead
    assert cache.get("k", slow_load) == "v1"  # answered without waiting for the load
    gate.set()
    wait_for(lambda: cache.get("k", source) == "v2")
    assert source.calls == 2  # one foreground load at first, one background refresh


def test_refresh_ahead_drops_entry_on_definite_answer() -> None:
    """A background reload that learns the key is gone (non-retryable) drops the entry, so
    the next get asks in the foreground and sees the error."""
    clock, source = Clock(), Source()
    cache: TtlCache[str, str] = TtlCache(10.0, refresh_ahead=0.75, clock=clock)
    cache.get("k", source)
    source.error = AccountNotFound("gone")
    clock.now += 8
    cache.get("k", source)
    wait_for(lambda: "k" not in cache._entries)
    with pytest.raises(AccountNotFound):
        cache.get("k", source)


def test_failed_background_refresh_backs_off() -> None:
    """A background refresh that fails is not retried on every get: within retry_interval
    callers get the cached value without a new load."""
    clock, source = Clock(), Source()
    cache: TtlCache[str, str] = TtlCache(10.0, refresh_ahead=0.75, retry_interval=5.0, clock=clock)
    cache.get("k", source)
    source.error = VaultUnavailable("down")
    clock.now += 8
    cache.get("k", source)  # starts one background refresh, which fails
    wait_for(lambda: source.calls == 2 and not cache._refreshing)
    for _ in range(20):
        assert cache.get("k", source) == "v1"
    time.sleep(0.05)
    assert source.calls == 2
    clock.now += 5.1  # the back-off is over (and the TTL too): the next get reloads
    source.error = None
    source.value = "v2"
    assert cache.get("k", source) == "v2"


def test_never_loaded_key_fails_fast_after_a_failure() -> None:
    """While the source is known down, a key with no value fails at once (same error type)
    instead of each caller waiting a timeout; after retry_interval it is tried again."""
    clock, source = Clock(), Source()
    cache = make(clock)
    source.error = VaultUnavailable("down")
    with pytest.raises(VaultUnavailable):
        cache.get("new", source)
    for _ in range(10):
        with pytest.raises(VaultUnavailable, match="ago"):
            cache.get("new", source)
    assert source.calls == 1
    clock.now += 6
    source.error = None
    assert cache.get("new", source) == "v1"
    assert source.calls == 2
