"""REDIS_URL's forms (shared.state.connection): single nodes as redis-py reads them, and
``redis+sentinel://`` parsed, checked and followed to the master of a real Sentinel set-up."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
import redis

from shared.errors import ConfigurationError
from shared.settings import Settings
from shared.state import async_redis_client, redis_client, redis_target
from shared.state.connection import SentinelTarget
from tests.support.redis_server import RedisServer
from tests.support.sentinel import SERVICE, SentinelSet

SINGLE = ["redis://127.0.0.1:6379/0", "rediss://:pw@redis.example:6380/2", "unix:///run/r.sock"]

GOOD = {
    "one": (
        "redis+sentinel://10.0.0.1:26380/tokens",
        SentinelTarget(sentinels=(("10.0.0.1", 26380),), service="tokens"),
    ),
    "several, default port, db": (
        "redis+sentinel://a:1,b,c:3/tokens/4",
        SentinelTarget(sentinels=(("a", 1), ("b", 26379), ("c", 3)), service="tokens", db=4),
    ),
    "ipv6": (
        "redis+sentinel://[::1]:5000,[fe80::1]/tokens",
        SentinelTarget(sentinels=(("::1", 5000), ("fe80::1", 26379)), service="tokens"),
    ),
    "password only": (
        "redis+sentinel://:s%40cret%2F@h:1/tokens",
        SentinelTarget(sentinels=(("h", 1),), service="tokens", password="s@cret/"),
    ),
    "user and password, sentinel password": (
        "redis+sentinel://app:pw@h:1/tokens/0?sentinel_password=s%26p",
        SentinelTarget(
            sentinels=(("h", 1),),
            service="tokens",
            username="app",
            password="pw",
            sentinel_password="s&p",
        ),
    ),
    "upper-case scheme, spaces, trailing slash": (
        "REDIS+SENTINEL://h:1, k:2/tokens/",
        SentinelTarget(sentinels=(("h", 1), ("k", 2)), service="tokens"),
    ),
}

BAD = {
    "no scheme": ("localhost:6379", "must start with redis://"),
    "another scheme": ("http://h:6379/0", "must start with redis://"),
    "a database that is not a number": ("redis://h:6379/zero", "database number"),
    "no sentinel": ("redis+sentinel:///tokens", "a Sentinel URL reads"),
    "no service": ("redis+sentinel://h:1", "a Sentinel URL reads"),
    "bad db": ("redis+sentinel://h:1/tokens/x", "a Sentinel URL reads"),
    "too deep": ("redis+sentinel://h:1/tokens/0/1", "a Sentinel URL reads"),
    "port not a number": ("redis+sentinel://h:p/tokens", "'h:p' is not a Sentinel's host:port"),
    "port out of range": ("redis+sentinel://h:70000/tokens", "is not a Sentinel's host:port"),
    "port 0": ("redis+sentinel://h:0/tokens", "is not a Sentinel's host:port"),
    "empty host": ("redis+sentinel://:1/tokens", "is not a Sentinel's host:port"),
    "ipv6 unbracketed": ("redis+sentinel://::1:5000/tokens", "in brackets"),
    "ipv6 unclosed": ("redis+sentinel://[::1:5000/tokens", "a Sentinel URL reads"),
    "ipv6 junk after": ("redis+sentinel://[::1]x/tokens", "is not a Sentinel's [address]:port"),
    "unknown option": ("redis+sentinel://h:1/tokens?ssl=1", "unknown Sentinel option(s) ssl"),
    "fragment": ("redis+sentinel://h:1/tokens#x", "a Sentinel URL reads"),
}


@pytest.mark.parametrize("url", SINGLE)
def test_a_single_node_url_is_redis_pys(url: str) -> None:
    """redis://, rediss:// and unix:// URLs are handed to redis-py as they are."""
    assert redis_target(url) == url


@pytest.mark.parametrize(("url", "expected"), GOOD.values(), ids=GOOD.keys())
def test_sentinel_urls(url: str, expected: SentinelTarget) -> None:
    """Every documented form of redis+sentinel:// parses to its Sentinels, service, db and
    (percent-decoded) passwords."""
    assert redis_target(url) == expected


@pytest.mark.parametrize(("url", "message"), BAD.values(), ids=BAD.keys())
def test_bad_urls_are_configuration_errors(url: str, message: str) -> None:
    """A URL of no supported form is refused with a ConfigurationError naming REDIS_URL and
    saying what is wrong."""
    with pytest.raises(ConfigurationError) as caught:
        redis_target(url)
    assert "REDIS_URL" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://:hunter2@h:1/tokens/x",
        "redis+sentinel://u:hunter2@h:p/tokens",
        "redis+sentinel://:hunter2@/tokens",
        "redis://:hunter2@h:port/0",
        "redis://:hunter2@h:1/0?socket_timeout=soon",
    ],
)
def test_an_error_never_repeats_the_password(url: str) -> None:
    """The message of a refused URL (of ours or redis-py's) never contains its password."""
    with pytest.raises(ConfigurationError) as caught:
        redis_client(url)
    assert "REDIS_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_targets_repr_hides_its_passwords() -> None:
    """A SentinelTarget in a log line or a traceback shows no password."""
    target = redis_target("redis+sentinel://u:hunter2@h:1/tokens?sentinel_password=swordfish")
    assert "hunter2" not in repr(target)
    assert "swordfish" not in repr(target)


def test_redis_pys_parse_errors_are_configuration_errors() -> None:
    """What redis-py refuses (a bad option value) is a ConfigurationError too, for both
    clients."""
    for build in (redis_client, async_redis_client):
        with pytest.raises(ConfigurationError, match="REDIS_URL: Invalid value"):
            build("redis://h:1/0?socket_timeout=soon")


def test_a_bad_redis_url_stops_the_apps_at_start(settings: Settings) -> None:
    """The Authorization API and the player refuse to be built over a REDIS_URL that is not
    one, with a message naming the variable (not a 500 at the first request)."""
    import authz_api.app  # noqa: PLC0415 - the apps are what is tested here
    import player.app  # noqa: PLC0415

    bad = msgspec.structs.replace(settings, redis_url="localhost:6379", authz_issuer="http://a")
    for create_app in (authz_api.app.create_app, player.app.create_app):
        with pytest.raises(ConfigurationError, match="REDIS_URL must start with redis://"):
            create_app(bad)


def test_the_same_options_for_a_single_node(redis_server: RedisServer) -> None:
    """A single node's client has the timeouts, retries and health checks asked for."""
    client = redis_client(
        redis_server.url, timeout=0.5, connect_timeout=0.25, retries=2, health_check_interval=7
    )
    try:
        assert client.ping()
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.5, 0.25)
        assert kwargs["health_check_interval"] == 7
        assert kwargs["retry"].get_retries() == 2
    finally:
        client.close()


@pytest.fixture(scope="module")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    with SentinelSet(Path(tmp_path_factory.mktemp("sentinel"))) as found:
        yield found


def test_a_sentinel_url_reaches_the_master(sentinels: SentinelSet) -> None:
    """Through the Sentinels, both clients write to the master (not the replica) and read
    it back."""
    master = sentinels.master_port()
    client = redis_client(sentinels.url)
    try:
        client.set("state-test", b"sync")
        assert client.get("state-test") == b"sync"
        assert client.connection_pool.get_master_address()[1] == master  # type: ignore[attr-defined]
    finally:
        client.close()

    async def both() -> bytes | None:
        aclient = async_redis_client(sentinels.url)
        try:
            await aclient.set("state-test", b"async")
            value: bytes | None = await aclient.get("state-test")
            return value
        finally:
            await aclient.aclose()

    assert asyncio.run(both()) == b"async"


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


def test_a_sentinel_password_is_for_the_sentinels_only() -> None:
    """?sentinel_password= goes to the Sentinel connections, the URL's password to the data
    nodes' (one is never used for the other)."""
    client = redis_client("redis+sentinel://:data@127.0.0.1:1/tokens?sentinel_password=sent")
    try:
        sentinel = client.sentinels_client  # type: ignore[attr-defined]
        assert sentinel.sentinel_kwargs["password"] == "sent"
        assert client.connection_pool.connection_kwargs["password"] == "data"
    finally:
        client.close()
    plain = redis_client("redis+sentinel://:data@127.0.0.1:1/tokens")
    try:
        assert "password" not in plain.sentinels_client.sentinel_kwargs  # type: ignore[attr-defined]
    finally:
        plain.close()


def test_an_unknown_service_is_a_connection_error(sentinels: SentinelSet) -> None:
    """A service the Sentinels do not monitor fails like an unreachable Redis (the callers
    answer 503), at once."""
    client = redis_client(sentinels.url.replace(f"/{SERVICE}/", "/nothing/"), timeout=0.5)
    try:
        with pytest.raises(redis.ConnectionError, match="No master found for 'nothing'"):
            client.ping()
    finally:
        client.close()


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
    a failover) is a broken connection, retried through the Sentinels, not a plain error."""
    port = sentinels.master_port()
    assert port is not None
    admin = sentinels.node(port)
    client = redis_client(sentinels.url, retries=1)
    try:
        admin.config_set("min-replicas-to-write", 3)  # more than it has
        with pytest.raises(redis.ConnectionError, match="no longer a master with replicas"):
            client.set("written", b"1")
        assert client.get("written") is None  # reads still work
        admin.config_set("min-replicas-to-write", 1)
        assert client.set("written", b"1")
    finally:
        admin.config_set("min-replicas-to-write", 1)
        admin.close()
        client.close()
