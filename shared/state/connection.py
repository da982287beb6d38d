"""Redis clients from ``REDIS_URL``: a single node, or the master a Sentinel set-up names.

``redis://``, ``rediss://`` and ``unix://`` URLs are redis-py's own (``Redis.from_url``).
``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]`` asks those
Sentinels for the current master of ``service`` and follows a failover: a connection that
breaks is re-opened to whichever node the Sentinels name master then. The password (and
user) are the data nodes'; ``?sentinel_password=`` gives the Sentinels' own when they need
one. redis-py has no URL form for Sentinel, hence this one (the scheme other clients use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.errors import ConfigurationError

__all__ = ["SentinelTarget", "async_redis_client", "redis_client", "redis_target"]

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """Where a ``redis+sentinel://`` URL points: the Sentinels and the service they watch."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def redis_target(url: str) -> str | SentinelTarget:
    """``url`` itself for a single node, or the parsed Sentinel target.

    Raises:
        ConfigurationError: a ``redis+sentinel://`` URL without Sentinels or service.
    """
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return url
    hosts = parts.netloc.rpartition("@")[2]
    sentinels: list[tuple[str, int]] = []
    for item in filter(None, hosts.split(",")):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "26379")
        if not host or not port.isdigit():
            raise ConfigurationError(f"REDIS_URL: {item!r} is not a Sentinel's host:port")
        sentinels.append((host.strip("[]"), int(port)))
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not sentinels or not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigurationError(
            "REDIS_URL: a Sentinel URL reads redis+sentinel://host:port[,host:port]/service[/db]"
        )
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    user, _, password = userinfo.partition(":")
    query = parse_qs(parts.query)
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=path[0],
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(user) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [None])[0],
    )


def _options(timeout: float, retries: int) -> dict[str, Any]:
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # redis-py's default retries with back-off: seconds of waiting while Redis is down.
        # One immediate retry after a broken connection re-opens it (to the new master after
        # a failover) and nothing more.
        "retry": Retry(NoBackoff(), retries, supported_errors=(redis.ConnectionError,)),
    }


def _sentinel_options(target: SentinelTarget, timeout: float) -> dict[str, Any]:
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    if target.sentinel_password:
        sentinel_kwargs["password"] = target.sentinel_password
    return {"sentinel_kwargs": sentinel_kwargs}


def redis_client(url: str, *, timeout: float = 1.0, retries: int = 1) -> redis.Redis:
    """A synchronous client for ``url`` (see the module for the URL forms).

    ``timeout`` bounds each connect and each command; a command whose connection broke is
    retried ``retries`` times, at once.
    """
    target = redis_target(url)
    if isinstance(target, str):
        return redis.Redis.from_url(target, **_options(timeout, retries))
    # redis-py's Sentinel classes are untyped.
    sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels), **_sentinel_options(target, timeout)
    )
    master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.service,
        db=target.db,
        username=target.username,
        password=target.password,
        **_options(timeout, retries),
    )
    return master


def async_redis_client(url: str, *, timeout: float = 1.0, retries: int = 1) -> redis.asyncio.Redis:
    """An asyncio client for ``url``; as :func:`redis_client`."""
    target = redis_target(url)
    if isinstance(target, str):
        return redis.asyncio.Redis.from_url(target, **_options(timeout, retries))
    sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels), **_sentinel_options(target, timeout)
    )
    master: redis.asyncio.Redis = sentinel.master_for(
        target.service,
        db=target.db,
        username=target.username,
        password=target.password,
        **_options(timeout, retries),
    )
    return master
