"""Replay stores: a key is accepted once until it expires, in memory and in a real Redis."""

from __future__ import annotations

import hashlib
import math
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from shared.errors import ReplayStoreUnavailable
from shared.server.replay_store import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    replay_store,
)
from shared.settings import Settings
from tests.support.redis_server import RedisServer


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def jti() -> str:
    """A fresh ``account:jti`` key, so tests never collide on the session Redis."""
    return f"acct-1:{uuid.uuid4()}"


def race(stores: list[ReplayStore], keys: list[str], threads: int = 8) -> dict[str, int]:
    """Every thread records every key at once (store chosen round-robin); the True counts."""
    wins = dict.fromkeys(keys, 0)
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    expires_at = time.time() + 60

    def work(n: int) -> None:
        store = stores[n % len(stores)]
        barrier.wait()
        for key in keys:
            if store.first_use(key, expires_at):
                with lock:
                    wins[key] += 1

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(switch)
    return wins


@pytest.fixture
def redis_store(redis_server: RedisServer) -> Iterator[RedisReplayStore]:
    """A Redis store on the session server, with a prefix of its own."""
    store = RedisReplayStore(redis_server.url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=["memory", "redis"])
def replay(request: pytest.FixtureRequest) -> ReplayStore:
    """Each store kind, on the real clock."""
    if request.param == "memory":
        return MemoryReplayStore()
    store: RedisReplayStore = request.getfixturevalue("redis_store")
    return store


# Both stores


def test_first_use_then_replay(replay: ReplayStore) -> None:
    """A key is accepted the first time and refused while its record lives."""
    key = jti()
    expires_at = time.time() + 60
    assert replay.first_use(key, expires_at) is True
    assert replay.first_use(key, expires_at) is False
    assert replay.first_use(key, expires_at + 3600) is False


def test_keys_are_independent(replay: ReplayStore) -> None:
    """The same jti under another account, or another jti, is a first use of its own."""
    expires_at = time.time() + 60
    jti_value = str(uuid.uuid4())
    assert replay.first_use(f"acct-1:{jti_value}", expires_at) is True
    assert replay.first_use(f"acct-2:{jti_value}", expires_at) is True
    assert replay.first_use(jti(), expires_at) is True


def test_past_expiry_records_nothing(replay: ReplayStore) -> None:
    """A key whose expiry has already passed is accepted and not remembered."""
    key = jti()
    assert replay.first_use(key, time.time() - 5) is True
    assert replay.first_use(key, time.time() - 5) is True
    assert replay.first_use(key, time.time() + 60) is True
    assert replay.first_use(key, time.time() + 60) is False


@pytest.mark.parametrize("expires_at", [math.nan, math.inf, -math.inf], ids=str)
def test_non_finite_expiry_is_refused(replay: ReplayStore, expires_at: float) -> None:
    """An expiry that is not a finite time is a programming error, not a first use."""
    with pytest.raises(ValueError, match="finite"):
        replay.first_use(jti(), expires_at)


def test_racing_threads_get_exactly_one_first_use(replay: ReplayStore) -> None:
    """Threads presenting the same keys at once: each key is accepted by exactly one."""
    keys = [jti() for _ in range(100)]
    assert race([replay], keys) == dict.fromkeys(keys, 1)


# Memory store


def test_memory_record_expires_on_the_clock() -> None:
    """A memory record refuses the key until ``expires_at``, then lets it be used again."""
    clock = Clock()
    store = MemoryReplayStore(clock=clock)
    assert store.first_use("acct:a", clock.now + 10) is True
    clock.now += 9.999
    assert store.first_use("acct:a", clock.now + 10) is False
    clock.now += 0.001
    assert store.first_use("acct:a", clock.now + 10) is True
    assert store.first_use("acct:a", clock.now + 10) is False


def test_memory_purges_expired_keys() -> None:
    """Memory follows the live keys: a long stream of short-lived keys never fills the store."""
    clock = Clock()
    store = MemoryReplayStore(max_entries=10, clock=clock)
    for i in range(1000):
        clock.now += 1
        assert store.first_use(f"acct:{i}", clock.now + 5) is True
        assert len(store) <= 5


def test_full_memory_store_refuses_new_keys_and_keeps_live_ones() -> None:
    """When full of live keys, new keys raise (retryable) and the live ones still count."""
    clock = Clock()
    store = MemoryReplayStore(max_entries=3, clock=clock)
    for key in ("acct:a", "acct:b", "acct:c"):
        assert store.first_use(key, clock.now + 10) is True
    with pytest.raises(ReplayStoreUnavailable) as caught:
        store.first_use("acct:d", clock.now + 10)
    assert caught.value.code == "REPLAY_STORE_UNAVAILABLE"
    assert caught.value.retryable is True
    for key in ("acct:a", "acct:b", "acct:c"):
        assert store.first_use(key, clock.now + 10) is False
    clock.now += 10
    assert store.first_use("acct:d", clock.now + 10) is True


def test_memory_store_keeps_only_hashes_of_keys() -> None:
    """The memory store holds a fixed-size digest per key, whatever the jti's length."""
    store = MemoryReplayStore()
    store.first_use("acct:" + "j" * 10_000, time.time() + 60)
    assert list(store._expiry) == [hashlib.sha256(b"acct:" + b"j" * 10_000).hexdigest()]


# Redis store, against a real redis-server


def test_two_instances_share_the_records(redis_server: RedisServer) -> None:
    """Two stores on one Redis (two app instances): a key used on one is refused on the other."""
    prefix = f"shared-{uuid.uuid4().hex[:8]}:"
    one = RedisReplayStore(redis_server.url, prefix=prefix)
    two = RedisReplayStore(redis_server.url, prefix=prefix)
    try:
        key = jti()
        assert one.first_use(key, time.time() + 60) is True
        assert two.first_use(key, time.time() + 60) is False
        keys = [jti() for _ in range(50)]
        assert race([one, two], keys) == dict.fromkeys(keys, 1)
    finally:
        one.close()
        two.close()


def test_redis_key_is_a_hash_with_the_expiry_set(redis_server: RedisServer) -> None:
    """Redis holds ``prefix + sha256(key)`` expiring at ``expires_at``; the jti is not visible."""
    prefix = f"hash-{uuid.uuid4().hex[:8]}:"
    store = RedisReplayStore(redis_server.url, prefix=prefix)
    client = redis_server.client()
    try:
        key = "acct-1:secret-looking-jti"
        store.first_use(key, time.time() + 60)
        names = list(client.scan_iter(match=f"{prefix}*"))
        assert names == [f"{prefix}{hashlib.sha256(key.encode()).hexdigest()}".encode()]
        assert 58_000 < client.pttl(names[0]) <= 60_000
        assert not list(client.scan_iter(match="*secret-looking-jti*"))
    finally:
        store.close()
        client.close()


def test_redis_record_expires(redis_store: RedisReplayStore) -> None:
    """Redis forgets the key once ``expires_at`` has passed, so it can be used again."""
    key = jti()
    expires_at = time.time() + 0.3
    assert redis_store.first_use(key, expires_at) is True
    assert redis_store.first_use(key, expires_at) is False
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)
    assert redis_store.first_use(key, time.time() + 60) is True


def _unavailable_within(store: RedisReplayStore, seconds: float) -> ReplayStoreUnavailable:
    start = time.monotonic()
    with pytest.raises(ReplayStoreUnavailable) as caught:
        store.first_use(jti(), time.time() + 60)
    assert time.monotonic() - start < seconds
    assert caught.value.code == "REPLAY_STORE_UNAVAILABLE"
    assert caught.value.retryable is True
    return caught.value


@pytest.mark.parametrize("used_before", [False, True], ids=["never-connected", "was-connected"])
def test_stopped_redis_fails_closed_quickly(used_before: bool) -> None:
    """With Redis stopped, first_use raises ReplayStoreUnavailable at once (no retry loop)."""
    server = RedisServer().start()
    store = RedisReplayStore(server.url)
    try:
        if used_before:
            assert store.first_use(jti(), time.time() + 60) is True
        server.stop()
        error = _unavailable_within(store, 1.0)
        assert error.__cause__ is not None
    finally:
        store.close()
        server.stop()


def test_hung_redis_fails_closed_after_the_timeout() -> None:
    """A Redis that accepts connections but never answers raises once ``timeout`` has passed."""
    server = RedisServer().start()
    store = RedisReplayStore(server.url, timeout=0.2)
    try:
        assert server.process is not None
        server.process.send_signal(signal.SIGSTOP)
        _unavailable_within(store, 1.5)
    finally:
        store.close()
        server.stop()


def test_refused_command_fails_closed() -> None:
    """A Redis that refuses the command (here: wants a password) raises, never answers True."""
    server = RedisServer("--requirepass", "s3cret").start()
    store = RedisReplayStore(server.url)
    try:
        _unavailable_within(store, 2.0)
    finally:
        store.close()
        server.stop()


def test_restarted_redis_is_used_again_at_once() -> None:
    """After Redis restarts, the next call reconnects instead of failing on the dead connection."""
    server = RedisServer().start()
    store = RedisReplayStore(server.url)
    try:
        assert store.first_use(jti(), time.time() + 60) is True
        server.stop()
        server = RedisServer(port=server.port).start()
        key = jti()
        assert store.first_use(key, time.time() + 60) is True
        assert store.first_use(key, time.time() + 60) is False
    finally:
        store.close()
        server.stop()


# Choosing the store


@pytest.mark.parametrize(
    ("redis_url", "kind"),
    [(None, MemoryReplayStore), ("session", RedisReplayStore)],
    ids=["no-redis-url", "redis-url"],
)
def test_replay_store_follows_the_settings(
    redis_server: RedisServer, redis_url: str | None, kind: type[ReplayStore]
) -> None:
    """REDIS_URL set gives a working Redis store; unset, a memory store."""
    url = redis_server.url if redis_url else None
    store = replay_store(Settings(redis_url=url))
    assert type(store) is kind
    key = jti()
    assert store.first_use(key, time.time() + 60) is True
    assert store.first_use(key, time.time() + 60) is False
    if isinstance(store, RedisReplayStore):
        client = redis_server.client()
        try:
            assert client.exists(f"replay:{hashlib.sha256(key.encode()).hexdigest()}") == 1
        finally:
            client.close()
        store.close()
