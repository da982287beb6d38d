"""TtlCache: TTL, stale-while-revalidate, stale-if-error, the back-off after a failed reload,
and the deadline of a foreground load."""

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
    """An outage serves the stale value, and the loader is not retried for retry_interval
    (an entry idle past its revalidation window is asked in the foreground, as here)."""
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


def swr(clock: Clock, **options: float) -> TtlCache[str, str]:
    """A cache with a revalidation window of 5 s past its 10 s TTL."""
    params: dict[str, float] = {
        "stale_if_error": 100.0,
        "retry_interval": 5.0,
        "stale_while_revalidate": 5.0,
        **options,
    }
    return TtlCache(10.0, clock=clock, **params)  # type: ignore[arg-type]


class Gated(Source):
    """A source whose calls wait for ``gate`` (a slow Vault the test lets answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def __call__(self) -> str:
        self.started.release()
        assert self.gate.wait(10), "gate never opened"
        return super().__call__()

    def hold(self) -> None:
        """Close the gate, forgetting the calls started so far."""
        self.gate.clear()
        while self.started.acquire(blocking=False):
            pass


def test_expired_entry_served_at_once_while_one_refresh_runs() -> None:
    """Past the TTL (within the window) every caller gets the stale value without waiting,
    and however many ask, one background refresh runs; its value is served after it."""
    clock, source = Clock(), Gated()
    cache = swr(clock)
    source.gate.set()
    cache.get("k", source)
    source.hold()
    source.value = "v2"
    clock.now += 12
    assert cache.holds("k")
    answers: list[str] = []
    callers = [
        threading.Thread(target=lambda: answers.append(cache.get("k", source))) for _ in range(20)
    ]
    started = time.monotonic()
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert time.monotonic() - started < 1.0  # nobody waited for the gated load
    assert answers == ["v1"] * 20
    assert source.started.acquire(timeout=5)
    source.gate.set()
    wait_for(lambda: cache.get("k", source) == "v2")
    assert source.calls == 2  # the first load, and one refresh for the twenty callers


def test_entry_idle_past_the_window_loads_in_the_foreground() -> None:
    """An entry nobody asked for since past TTL + window is not served: the caller waits
    for the load (a change made in Vault shows within TTL + window when Vault answers)."""
    clock, source = Clock(), Source()
    cache = swr(clock)
    cache.get("k", source)
    source.value = "v2"
    clock.now += 16
    assert not cache.holds("k")
    assert cache.get("k", source) == "v2"
    assert source.calls == 2


def test_never_seen_key_loads_in_the_foreground() -> None:
    """A key with nothing cached is loaded while the caller waits, once for concurrent
    callers, who all get its value."""
    clock, source = Clock(), Gated()
    cache = swr(clock)
    answers: list[str] = []
    callers = [
        threading.Thread(target=lambda: answers.append(cache.get("new", source))) for _ in range(8)
    ]
    for t in callers:
        t.start()
    assert source.started.acquire(timeout=5)
    time.sleep(0.05)
    assert answers == []  # they wait for it
    source.gate.set()
    for t in callers:
        t.join()
    assert answers == ["v1"] * 8
    assert source.calls == 1


def test_failed_refresh_keeps_the_stale_entry_until_stale_if_error() -> None:
    """A refresh that fails (Vault down) leaves the stale value served at once, retried in
    the background after each back-off, until TTL + stale_if_error; then the error shows."""
    clock, source = Clock(), Source()
    cache = swr(clock)
    cache.get("k", source)
    source.error = VaultUnavailable("down")
    clock.now += 11
    assert cache.get("k", source) == "v1"
    wait_for(lambda: source.calls == 2 and not cache._refreshing)
    for step in range(18):  # to 101 s: past the window, but failing lately all along
        clock.now += 5
        assert cache.holds("k"), step
        assert cache.get("k", source) == "v1"
        wait_for(lambda: not cache._refreshing)
    assert source.calls > 10  # retried, in the background, about once per back-off
    clock.now += 10  # 111 s: past TTL + stale_if_error
    with pytest.raises(VaultUnavailable):
        cache.get("k", source)


def test_refresh_of_a_gone_key_drops_it() -> None:
    """A refresh that gets a definite answer (the key is gone) drops the entry: the next
    caller asks in the foreground and gets that answer, not the stale value."""
    clock, source = Clock(), Source()
    cache = swr(clock)
    cache.get("k", source)
    source.error = AccountNotFound("gone")
    clock.now += 11
    assert cache.get("k", source) == "v1"  # served once, while the refresh finds out
    wait_for(lambda: not cache.holds("k"))
    with pytest.raises(AccountNotFound):
        cache.get("k", source)


def test_no_stale_if_error_means_never_stale() -> None:
    """With stale_if_error 0 an expired entry is never served, however recent."""
    clock, source = Clock(), Source()
    cache = swr(clock, stale_if_error=0.0)
    cache.get("k", source)
    source.value = "v2"
    clock.now += 10.5
    assert not cache.holds("k")
    assert cache.get("k", source) == "v2"


def test_age_counts_from_when_the_read_started() -> None:
    """A slow read's value is as old as the read: a refresh that took 4 s of a 10 s TTL
    leaves an entry that expires 6 s after it landed."""
    clock, source = Clock(), Source()
    cache = swr(clock, stale_while_revalidate=0.0)

    def slow() -> str:
        clock.now += 4
        return source()

    cache.get("k", slow)  # read from 1000 to 1004
    clock.now += 6.5  # 10.5 s after the read started
    source.value = "v2"
    assert not cache.holds("k")
    assert cache.get("k", source) == "v2"


def test_invalidate_wins_over_a_read_already_under_way() -> None:
    """A refresh that started before invalidate() (an account changed) does not put its
    older value back: the next caller reads again."""
    clock, source = Clock(), Gated()
    cache = swr(clock)
    source.gate.set()
    cache.get("k", source)
    source.hold()
    clock.now += 11
    assert cache.get("k", source) == "v1"  # starts the refresh, which waits at the gate
    assert source.started.acquire(timeout=5)
    clock.now += 0.1
    cache.invalidate("k")
    source.gate.set()
    wait_for(lambda: not cache._refreshing)
    assert not cache.holds("k")
    source.value = "v2"
    assert cache.get("k", source) == "v2"


def test_foreground_load_gives_up_at_the_deadline() -> None:
    """A caller waits for a load until its deadline, then gets VaultUnavailable at once;
    the load goes on and its value is served to the next caller."""
    clock, source = Clock(), Gated()
    cache = swr(clock, deadline=0.3)
    started = time.monotonic()
    with pytest.raises(VaultUnavailable, match="deadline"):
        cache.get("new", source)
    assert 0.25 < time.monotonic() - started < 1.0
    with pytest.raises(VaultUnavailable):
        cache.get("new", source, deadline=time.monotonic() + 0.1)  # joins the same load
    source.gate.set()
    wait_for(lambda: cache.holds("new"))
    assert cache.get("new", source) == "v1"
    assert source.calls == 1


def test_deadline_passed_serves_a_stale_entry() -> None:
    """At the deadline of a foreground load, an entry within stale_if_error is served."""
    clock, source = Clock(), Gated()
    cache = swr(clock, deadline=0.2)
    source.gate.set()
    cache.get("k", source)
    source.hold()
    clock.now += 50  # past the window, within stale_if_error: asked in the foreground
    started = time.monotonic()
    assert cache.get("k", source) == "v1"
    assert time.monotonic() - started < 1.0
    source.gate.set()


def test_prefetch_starts_the_load_a_get_joins() -> None:
    """prefetch() starts loading a missing key without waiting; a get then shares it."""
    clock, source = Clock(), Gated()
    cache = swr(clock)
    cache.prefetch("k", source)
    assert source.started.acquire(timeout=5)
    cache.prefetch("k", source)  # one load at a time
    source.gate.set()
    assert cache.get("k", source) == "v1"
    cache.prefetch("k", source)  # held: nothing to do
    time.sleep(0.05)
    assert source.calls == 1


def test_too_many_loads_fail_at_once() -> None:
    """Past max_loading foreground loads in flight, a new key fails at once (a hung Vault
    and a flood of ids cannot queue without end)."""
    clock, source = Clock(), Gated()
    cache: TtlCache[str, str] = TtlCache(10.0, clock=clock, deadline=5.0, max_loading=2)
    cache.prefetch("a", source)
    cache.prefetch("b", source)
    started = time.monotonic()
    with pytest.raises(VaultUnavailable, match="already wait"):
        cache.get("c", source)
    assert time.monotonic() - started < 0.5
    source.gate.set()
    wait_for(lambda: cache.holds("a") and cache.holds("b"))
    assert cache.get("c", source) == "v1"


def test_zero_ttl_asks_the_source_every_time() -> None:
    """With a TTL of 0 nothing is served without asking (no revalidation window), but a
    failure still serves the last value within stale_if_error."""
    clock, source = Clock(), Source()
    zero: TtlCache[str, str] = TtlCache(
        0.0, stale_if_error=100.0, stale_while_revalidate=5.0, clock=clock
    )
    assert zero.get("k", source) == "v1"
    source.value = "v2"
    assert zero.get("k", source) == "v2"
    source.error = VaultUnavailable("down")
    assert zero.get("k", source) == "v2"
    assert source.calls == 3


def test_foreground_load_of_a_gone_key_drops_its_entry() -> None:
    """A foreground load (entry idle past its window) that gets a definite answer raises it
    and drops the old entry: nothing is served from it afterwards."""
    clock, source = Clock(), Source()
    cache = swr(clock)
    cache.get("k", source)
    source.error = AccountNotFound("gone")
    clock.now += 50
    with pytest.raises(AccountNotFound):
        cache.get("k", source)
    assert len(cache) == 0
