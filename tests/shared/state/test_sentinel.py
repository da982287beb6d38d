"""redis-py's Sentinel classes as shared.state.sentinel mends them, against a real loopback
Sentinel set-up: connections closed on a timed-out read, a master without replicas left, the
list of Sentinels intact under concurrent look-ups, the Sentinel connections closed."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Callable

import pytest
import redis
import redis.asyncio.sentinel
import redis.sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.state import async_redis_client, redis_client
from shared.state.sentinel import AsyncSentinel, SyncSentinel
from tests.support.openbao import free_port
from tests.support.sentinel import SERVICE, SentinelSet


def test_a_timed_out_reply_never_answers_the_next_command(sentinels: SentinelSet) -> None:
    """A command that timed out on a hung master closes its connection: once the master
    answers again, the next command gets its own reply, not the late one (redis-py 8.1's
    Sentinel connection kept the socket: redis/redis-py#4292)."""
    client = redis_client(sentinels.url, timeout=0.2)
    try:
        client.set("late", b"late reply")
        client.set("next", b"its own reply")
        port = sentinels.freeze_master()  # thawed well within down-after: no failover
        try:
            with pytest.raises(redis.TimeoutError):
                client.get("late")
            thaw = threading.Timer(0.1, sentinels.thaw, args=(port,))
            thaw.start()
            assert client.get("next") == b"its own reply"
            thaw.join()
        finally:
            sentinels.thaw(port)
    finally:
        client.close()


def test_a_master_without_replicas_is_left(sentinels: SentinelSet) -> None:
    """A master that refuses writes for want of a replica (NOREPLICAS: an old master after
    a failover) is a broken connection, retried through the Sentinels, not a plain error:
    for both clients, commands and scripts alike."""
    port = sentinels.master_port()
    assert port is not None
    admin = sentinels.node(port)
    client = redis_client(sentinels.url, retries=1)
    try:
        admin.config_set("min-replicas-to-write", 3)  # more than it has
        with pytest.raises(redis.ConnectionError, match="no longer a master with replicas"):
            client.set("written", b"1")
        assert client.get("written") is None  # reads still work
        asyncio.run(_refused_async(sentinels.url))
        admin.config_set("min-replicas-to-write", 1)
        assert client.set("written", b"1")
    finally:
        admin.config_set("min-replicas-to-write", 1)
        admin.close()
        client.close()


async def _refused_async(url: str) -> None:
    """The asyncio client, a command and a script (the player's writes are scripts)."""
    client = async_redis_client(url, retries=1)
    try:
        script = client.register_script("return redis.call('SET', KEYS[1], '1')")
        with pytest.raises(redis.ConnectionError, match="no longer a master with replicas"):
            await script(keys=["written"])
        with pytest.raises(redis.ConnectionError, match="no longer a master with replicas"):
            await client.set("written", b"1")
    finally:
        await client.aclose()


def _with_a_dead_one(sentinels: SentinelSet) -> list[tuple[str, int]]:
    """The Sentinels' addresses after one that refuses connections: every look-up goes past
    the head of the list, so each moves another Sentinel to the front."""
    return [("127.0.0.1", free_port()), *(("127.0.0.1", p) for p in sentinels.sentinel_ports)]


#: As shared.state.connection asks the Sentinels: a refused one is passed over at once.
FAST = {"socket_timeout": 1, "retry": Retry(NoBackoff(), 0)}


def _ports(sentinel: redis.sentinel.Sentinel | redis.asyncio.sentinel.Sentinel) -> list[int]:
    return sorted(s.connection_pool.connection_kwargs["port"] for s in sentinel.sentinels)


def test_concurrent_look_ups_keep_every_sentinel(sentinels: SentinelSet) -> None:
    """Threads asking for the master at once leave the list of Sentinels a permutation of
    the one given (redis-py's own reordering writes one Sentinel over another: shown in
    the output, 3 of 4 left at most runs)."""
    addresses = _with_a_dead_one(sentinels)

    def ask(cls: type[redis.sentinel.Sentinel]) -> list[int]:
        sentinel = cls(addresses, sentinel_kwargs=FAST)
        found: list[int] = []

        def look_up() -> None:
            found.extend(sentinel.discover_master(SERVICE)[1] for _ in range(30))

        threads = [threading.Thread(target=look_up) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert set(found) == {sentinels.master_port()}
            assert len(found) == 8 * 30
            return _ports(sentinel)
        finally:
            sentinel.close()

    theirs = ask(redis.sentinel.Sentinel)
    assert ask(SyncSentinel) == sorted(p for _, p in addresses)
    print(f"redis-py's Sentinels after the threads' look-ups: {len(set(theirs))} of 4")


def test_concurrent_async_look_ups_keep_every_sentinel(sentinels: SentinelSet) -> None:
    """Tasks asking for the master at once leave the list of Sentinels whole (redis-py's
    own loses one at nearly every run: written over after an await)."""
    addresses = _with_a_dead_one(sentinels)

    async def ask(cls: type[redis.asyncio.sentinel.Sentinel]) -> list[int]:
        sentinel = cls(addresses, sentinel_kwargs=FAST)
        try:
            found = await asyncio.gather(*(sentinel.discover_master(SERVICE) for _ in range(50)))
            assert {port for _, port in found} == {sentinels.master_port()}
            return _ports(sentinel)
        finally:
            await sentinel.aclose()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the lost Sentinel's, never closed
        theirs = asyncio.run(ask(redis.asyncio.sentinel.Sentinel))
    assert asyncio.run(ask(AsyncSentinel)) == sorted(p for _, p in addresses)
    print(f"redis-py's Sentinels after the tasks' look-ups: {len(set(theirs))} of 4")


def test_no_master_is_a_connection_error(sentinels: SentinelSet) -> None:
    """When no Sentinel names a sound master, the look-up fails as redis-py's does
    (MasterNotFoundError, a ConnectionError the callers answer 503 for), naming each
    Sentinel that could not be asked."""
    dead = ("127.0.0.1", free_port())
    sentinel = SyncSentinel([dead], sentinel_kwargs=FAST)
    try:
        with pytest.raises(redis.sentinel.MasterNotFoundError, match=f"port={dead[1]}"):
            sentinel.discover_master(SERVICE)
    finally:
        sentinel.close()

    async def ask() -> None:
        live = AsyncSentinel([("127.0.0.1", sentinels.sentinel_ports[0])], sentinel_kwargs=FAST)
        try:
            with pytest.raises(redis.ConnectionError, match="No master found for 'nothing'"):
                await live.discover_master("nothing")
        finally:
            await live.aclose()

    asyncio.run(ask())


def test_closing_closes_the_sentinel_connections_too(sentinels: SentinelSet) -> None:
    """Closing a client leaves no connection of ours open to the Sentinels (and the asyncio
    one no ResourceWarning)."""

    async def use() -> None:
        aclient = async_redis_client(sentinels.url)
        await aclient.ping()
        assert _clients(sentinels)  # it asked a Sentinel
        await aclient.aclose()

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        client = redis_client(sentinels.url)
        client.ping()
        assert _clients(sentinels)
        client.close()
        _wait_until(lambda: not _clients(sentinels))
        asyncio.run(use())
        _wait_until(lambda: not _clients(sentinels))


def _clients(sentinels: SentinelSet) -> list[dict[str, str]]:
    """The connections the Sentinels have from clients: not from each other (they name
    theirs ``sentinel-...``), nor this probe."""
    found = []
    for port in sentinels.sentinel_ports:
        probe = sentinels.sentinel(port)
        try:
            found += [
                c
                for c in probe.client_list()
                if not c.get("name") and c.get("cmd") != "client|list"
            ]
        finally:
            probe.close()
    return found


def _wait_until(condition: Callable[[], object], seconds: float = 2.0) -> None:
    """A server notices a closed connection a moment later."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)
