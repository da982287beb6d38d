"""REDIS_URL's forms (shared.state.connection): single nodes as redis-py reads them, and
``redis+sentinel://`` parsed, checked and followed to the master of a real Sentinel set-up."""

from __future__ import annotations

import asyncio
import json
import time

import msgspec
import pytest
import redis

from shared.errors import ConfigurationError
from shared.identity.participations import Participations
from shared.server.account_changes import AccountChangeListener
from shared.server.replay_store import RedisReplayStore
from shared.settings import Settings
from shared.state import async_redis_client, redis_client, redis_target
from shared.state.connection import SentinelTarget
from tests.support.apis import in_process_cli
from tests.support.openbao import free_port
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


@pytest.mark.parametrize("url", ["localhost:6379", "redis+sentinel://h:1"])
def test_a_bad_redis_url_stops_the_apps_at_start(settings: Settings, url: str) -> None:
    """Both APIs and the player refuse to be built over a REDIS_URL that is not one, with a
    message naming the variable (not a 500 at the first request)."""
    import authz_api.app  # noqa: PLC0415 - the apps are what is tested here
    import crypto_api.app  # noqa: PLC0415
    import player.app  # noqa: PLC0415

    bad = msgspec.structs.replace(settings, redis_url=url, authz_issuer="http://a")
    for create_app in (authz_api.app.create_app, crypto_api.app.create_app, player.app.create_app):
        with pytest.raises(ConfigurationError, match="REDIS_URL"):
            create_app(bad)


def test_the_account_change_listener_refuses_a_bad_url() -> None:
    """A listener is refused a REDIS_URL that is not one when it is made (at the app's
    start), not in its thread at every reconnection."""
    with pytest.raises(ConfigurationError, match="REDIS_URL must start with redis://"):
        AccountChangeListener("localhost:6379", lambda _: None, lambda: None)


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


def test_backoff_is_the_first_wait(redis_server: RedisServer) -> None:
    """``backoff`` is the wait before the first retry, doubled for each next one (what
    tokenctl uses to wait out a failover); without it, retries are immediate."""
    client = redis_client(redis_server.url, retries=3, backoff=1.0)
    immediate = redis_client(redis_server.url, retries=1)
    try:
        waits = client.connection_pool.connection_kwargs["retry"]._backoff
        assert [waits.compute(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
        none = immediate.connection_pool.connection_kwargs["retry"]._backoff
        assert none.compute(1) == 0
    finally:
        client.close()
        immediate.close()


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


def test_a_dead_sentinel_is_passed_over_at_once(sentinels: SentinelSet) -> None:
    """With the first Sentinel listed down, the first command still finds the master in a
    moment (redis-py's default retries the dead one with back-off: 3.8 s measured)."""
    dead = free_port()
    client = redis_client(sentinels.url.replace("//", f"//127.0.0.1:{dead},", 1))
    try:
        started = time.monotonic()
        assert client.ping()
        assert time.monotonic() - started < 0.5
    finally:
        client.close()


def test_the_stores_work_through_the_sentinels(
    sentinels: SentinelSet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The replay store, the participations and tokenctl webhooks, given a Sentinel
    REDIS_URL, read and write the master the Sentinels name."""
    store = RedisReplayStore(sentinels.url, prefix="state-test:")
    try:
        expires = time.time() + 60
        assert store.first_use("jti-1", expires) is True
        assert store.first_use("jti-1", expires) is False
    finally:
        store.close()

    async def count() -> int:
        participations = Participations(sentinels.url, prefix="state-test:")
        try:
            return await participations.count("acct", "1001", "someone")
        finally:
            await participations.close()

    assert asyncio.run(count()) == 0
    master = sentinels.master_port()
    assert master is not None
    node = sentinels.node(master)
    try:
        assert node.keys("state-test:*")  # on the master itself
    finally:
        node.close()

    monkeypatch.setenv("REDIS_URL", sentinels.url)
    code, out, err = in_process_cli(monkeypatch, capsys)("webhooks", "list", "acct-1", "--json")
    assert (code, err) == (0, ""), out
    assert json.loads(out)["parked"] == []
