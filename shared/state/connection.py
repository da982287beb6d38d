"""Redis clients from ``REDIS_URL``: a single node, or the master a Sentinel set-up names.

``redis://``, ``rediss://`` and ``unix://`` URLs are redis-py's own (``Redis.from_url``).
``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]`` asks those
Sentinels (port 26379 by default; an IPv6 address in brackets) for the current master of
``service`` and follows a failover: a connection that breaks, or whose node was demoted
(``READONLY``) or cut off from its replicas (``NOREPLICAS``), is re-opened to whichever
node the Sentinels name master then (redis-py's Sentinel classes, mended in
:mod:`shared.state.sentinel`). The password (and user) are the data nodes';
``?sentinel_password=`` gives the Sentinels' own when they need one. redis-py has no URL
form for Sentinel, hence this one; no TLS for it. docs/decisions.md ("Redis beyond one
node") says why, and what a failover costs.

A URL that is none of these raises :class:`~shared.errors.ConfigurationError` when the
client is built (at an app's start), with a message naming ``REDIS_URL`` and never
repeating a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio
from redis.backoff import AbstractBackoff, ExponentialBackoff, NoBackoff
from redis.retry import Retry

from shared.errors import ConfigurationError
from shared.state.sentinel import (
    AsyncMasterConnection,
    AsyncSentinel,
    AsyncSentinelMaster,
    MasterConnection,
    SentinelMaster,
    SyncSentinel,
)

__all__ = ["SentinelTarget", "async_redis_client", "redis_client", "redis_target"]

SENTINEL_SCHEME: Final = "redis+sentinel"
#: redis-py's own schemes, handed to ``Redis.from_url`` as they are.
NODE_SCHEMES: Final = frozenset({"redis", "rediss", "unix"})
SENTINEL_PORT: Final = 26379
_FORM: Final = (
    "REDIS_URL: a Sentinel URL reads "
    "redis+sentinel://[[user]:password@]host[:port][,host[:port]]/service[/db]"
)
_QUERY: Final = frozenset({"sentinel_password"})


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """Where a ``redis+sentinel://`` URL points: the Sentinels and the service they watch."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    # Passwords stay out of logs and tracebacks.
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)


def redis_target(url: str) -> str | SentinelTarget:
    """``url`` itself for a single node, or the parsed Sentinel target.

    Raises:
        ConfigurationError: not a Redis URL, or a ``redis+sentinel://`` URL not of the form
            above (no Sentinel, a bad port, no service, a bad database, an unknown option).
    """
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in NODE_SCHEMES | {SENTINEL_SCHEME}:
        raise ConfigurationError(
            "REDIS_URL must start with redis://, rediss://, unix:// or redis+sentinel://"
        )
    if scheme.lower() in {"redis", "rediss"}:
        # redis-py would read ``/x`` as database 0 without a word.
        database = urlsplit(url).path.strip("/")
        if database and not database.isdigit():
            raise ConfigurationError("REDIS_URL: the path is a database number (/0 by default)")
    if scheme.lower() != SENTINEL_SCHEME:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # unbalanced brackets
        raise ConfigurationError(_FORM) from None
    userinfo, _, hosts = parts.netloc.rpartition("@")
    sentinels = tuple(_sentinel(item) for item in hosts.split(",") if item.strip())
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not sentinels or not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigurationError(_FORM)
    if parts.fragment:
        raise ConfigurationError(_FORM)
    try:
        query = parse_qs(parts.query, strict_parsing=bool(parts.query), keep_blank_values=True)
    except ValueError:
        raise ConfigurationError(f"{_FORM}?sentinel_password=...") from None
    unknown = sorted(set(query) - _QUERY)
    if unknown:
        raise ConfigurationError(f"REDIS_URL: unknown Sentinel option(s) {', '.join(unknown)}")
    user, _, password = userinfo.partition(":")
    return SentinelTarget(
        sentinels=sentinels,
        service=path[0],
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(user) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [""])[-1] or None,
    )


def _sentinel(item: str) -> tuple[str, int]:
    """``host[:port]`` or ``[v6][:port]`` as (host, port)."""
    item = item.strip()
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigurationError(f"REDIS_URL: {item!r} is not a Sentinel's [address]:port")
        port = rest[1:] if rest else str(SENTINEL_PORT)
    elif item.count(":") > 1:
        raise ConfigurationError(f"REDIS_URL: write the IPv6 Sentinel {item!r} in brackets")
    else:
        host, _, port = item.partition(":") if ":" in item else (item, "", str(SENTINEL_PORT))
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"REDIS_URL: {item!r} is not a Sentinel's host:port")
    return host, int(port)


def _options(
    timeout: float,
    connect_timeout: float | None,
    retries: int,
    backoff: float,
    health_check_interval: int,
) -> dict[str, Any]:
    # redis-py waits base * 2**n before the n-th retry: ``backoff`` is the first wait.
    wait: AbstractBackoff = (
        ExponentialBackoff(cap=10.0, base=backoff / 2) if backoff else NoBackoff()
    )
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout if connect_timeout is None else connect_timeout,
        "health_check_interval": health_check_interval,
        # redis-py's default retries with back-off: seconds of waiting while Redis is down,
        # which a service answering 503 must not spend. By default a retry after a broken
        # connection re-opens it at once (to the new master after a failover) and nothing
        # more; a timeout is not retried (it could double the wait).
        "retry": Retry(wait, retries, supported_errors=(redis.ConnectionError,)),
    }


def _sentinel_kwargs(target: SentinelTarget, timeout: float) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # A Sentinel that does not answer is passed over for the next one at once; redis-py's
        # default retries it with back-off first (3.8 s measured with the first one down).
        "retry": Retry(NoBackoff(), 0),
    }
    if target.sentinel_password:
        kwargs["password"] = target.sentinel_password
    return kwargs


def _master_options(target: SentinelTarget, options: dict[str, Any]) -> dict[str, Any]:
    """The data nodes' connection options for a Sentinel master client (sync or asyncio)."""
    return {
        "db": target.db,
        "username": target.username,
        "password": target.password,
        **options,
    }


def redis_client(
    url: str,
    *,
    timeout: float = 1.0,
    connect_timeout: float | None = None,
    retries: int = 1,
    backoff: float = 0.0,
    health_check_interval: int = 0,
) -> redis.Redis:
    """A synchronous client for ``url`` (see the module for the URL forms).

    ``timeout`` bounds each command (and each connect, unless ``connect_timeout`` is given);
    a command whose connection broke is retried ``retries`` times, at once, or after
    ``backoff`` seconds doubled at each retry (a CLI may wait out a failover; a service
    answers 503 instead). For a Sentinel URL, asking the Sentinels for the master is
    bounded by ``timeout`` per Sentinel.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL of a form above.
    """
    target = redis_target(url)
    options = _options(timeout, connect_timeout, retries, backoff, health_check_interval)
    if isinstance(target, str):
        try:
            return redis.Redis.from_url(target, **options)
        except ValueError as exc:  # redis-py's parse errors name the part, not the URL
            raise ConfigurationError(f"REDIS_URL: {exc}") from None
    sentinel = SyncSentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target, timeout)
    )
    master: SentinelMaster = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.service,
        redis_class=SentinelMaster,
        connection_class=MasterConnection,
        **_master_options(target, options),
    )
    master.sentinels_client = sentinel
    return master


def async_redis_client(
    url: str,
    *,
    timeout: float = 1.0,
    connect_timeout: float | None = None,
    retries: int = 1,
    backoff: float = 0.0,
    health_check_interval: int = 0,
) -> redis.asyncio.Redis:
    """An asyncio client for ``url``; as :func:`redis_client`.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL of a form above.
    """
    target = redis_target(url)
    options = _options(timeout, connect_timeout, retries, backoff, health_check_interval)
    if isinstance(target, str):
        try:
            return redis.asyncio.Redis.from_url(target, **options)
        except ValueError as exc:
            raise ConfigurationError(f"REDIS_URL: {exc}") from None
    sentinel = AsyncSentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target, timeout)
    )
    master: AsyncSentinelMaster = sentinel.master_for(
        target.service,
        redis_class=AsyncSentinelMaster,
        connection_class=AsyncMasterConnection,
        **_master_options(target, options),
    )
    master.sentinels_client = sentinel
    return master
