"""Per-key token buckets: the services' and the player's rate limits, per process or in Redis.

Each key (an account id, an address, a token's hash) has a bucket of at most ``burst``
tokens that refills at ``rate`` tokens a second; a request takes ``cost`` tokens or is
refused with the seconds until they are back (the endpoint's ``Retry-After``). A call may
name its own rate and burst (an account's limits from its document): the bucket then
follows them.

:class:`RateLimiter` keeps the buckets in the process: with N instances, each applies the
limit to its own share of the traffic (N budgets). :class:`RedisRateLimiter` keeps them in
Redis, so every instance on the same ``REDIS_URL`` draws from one budget per key. One round
trip per call: a Lua script reads the bucket, refills it by the time elapsed *on Redis's
clock* (``TIME``, so the instances' clocks never matter), takes the tokens and sets the
expiry (a bucket is dropped once it would be full again: a missing bucket is a full one).

When Redis fails or is slower than ``timeout`` (0.25 s), a limit does what its
``on_outage`` says (docs/decisions.md): ``"local"`` (the default) takes the tokens from a
per-process bucket instead, a degraded limit (one budget per instance) rather than none or
a refusal of all traffic; ``"refuse"`` refuses (for a limit whose budget must never be
exceeded). One warning is logged per outage; Redis is asked again after ``retry_interval``,
and until then no call waits for it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Literal, Protocol

import redis
import redis.asyncio
from redis.commands.core import AsyncScript, Script

from shared.state.connection import async_redis_client, redis_client

__all__ = [
    "Limiter",
    "Limiters",
    "OnOutage",
    "RateLimiter",
    "RedisBuckets",
    "RedisRateLimiter",
]

logger = logging.getLogger("shared.state.rate_limits")

#: What a limit does while Redis cannot be asked.
OnOutage = Literal["local", "refuse"]

# KEYS[1] the bucket; ARGV rate, burst, tokens needed. Returns 0 (taken) or the wait in
# microseconds (an integer: Redis truncates a Lua number reply). The bucket holds its
# tokens and Redis's time of that count; the max() keeps a clock that steps back (a
# failover to a node whose clock is behind) from draining it.
_ACQUIRE: Final = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if state[1] and state[2] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local wait = 0
if tokens >= need then
  tokens = tokens - need
else
  wait = math.ceil((need - tokens) / rate * 1000000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return wait
"""


class Limiter(Protocol):
    """What the services and the player call: :class:`RateLimiter` or
    :class:`RedisRateLimiter`."""

    @property
    def rate(self) -> float:
        """The default tokens a second (0: no limit)."""
        ...

    @property
    def burst(self) -> int:
        """The default bucket size."""
        ...

    def acquire(
        self, key: str, cost: int = 1, *, rate: float | None = None, burst: int | None = None
    ) -> float | None:
        """None when allowed, else the seconds to wait (blocking: call it off the event loop)."""
        ...

    async def acquire_async(
        self, key: str, cost: int = 1, *, rate: float | None = None, burst: int | None = None
    ) -> float | None:
        """As :meth:`acquire`, for callers on the event loop."""
        ...

    async def aclose(self) -> None:
        """Close the connections to Redis, if any (shared with the other limiters made by
        the same :class:`Limiters`: call it once, for the last)."""
        ...


def _check(rate: float, burst: int) -> None:
    if not math.isfinite(rate):
        raise ValueError(f"rate must be a finite number of tokens a second, got {rate!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst}")


def _shape(
    default_rate: float,
    default_burst: int,
    cost: int,
    rate: float | None,
    burst: int | None,
) -> tuple[float, float, float]:
    """(rate, size, need) of one call: the call's own limits or the defaults, and the
    tokens it takes (at least 1, at most the bucket, so a large batch can ever pass)."""
    rate = default_rate if rate is None else rate
    size = float(default_burst if burst is None else max(burst, 1))
    return rate, size, float(min(max(cost, 1), size))


class RateLimiter:
    """Thread-safe token buckets kept in this process, at most ``max_keys`` of them.

    When ``max_keys`` buckets exist, a new key evicts the least recently used one. That key
    has been quiet the longest, so its bucket is most likely full again and dropping it
    changes nothing: it comes back full. ``rate <= 0`` disables the limit.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        _check(rate, burst)
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._max = max_keys
        # key -> (tokens, time of that count); least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys have a bucket."""
        return len(self._buckets)

    @property
    def rate(self) -> float:
        """The default tokens a second (0: no limit)."""
        return self._rate

    @property
    def burst(self) -> int:
        """The default bucket size."""
        return self._burst

    def acquire(
        self, key: str, cost: int = 1, *, rate: float | None = None, burst: int | None = None
    ) -> float | None:
        """Take ``cost`` tokens (one per unit of work: a batch costs its size, capped at the
        burst) from ``key``'s bucket.

        ``rate`` and ``burst``, when given, replace the limiter's defaults for this key (an
        account's own limits): a bucket holding more than a lowered burst is cut down to it.

        Returns:
            None when the request is allowed; otherwise the seconds until a token is
            available (positive), for ``Retry-After``.
        """
        rate, size, need = _shape(self._rate, self._burst, cost, rate, burst)
        if rate <= 0:
            return None
        with self._lock:
            now = self._clock()
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                if len(self._buckets) >= self._max:
                    self._buckets.popitem(last=False)
                tokens = size
            else:
                tokens, then = bucket
                # max(): a clock that steps back must not drain the bucket.
                tokens = min(size, tokens + max(0.0, now - then) * rate)
            if tokens >= need:
                self._buckets[key] = (tokens - need, now)
                return None
            self._buckets[key] = (tokens, now)
            return (need - tokens) / rate

    async def acquire_async(
        self, key: str, cost: int = 1, *, rate: float | None = None, burst: int | None = None
    ) -> float | None:
        """:meth:`acquire`: it never waits on I/O (the lock is held for microseconds), so it
        is safe on the event loop."""
        return self.acquire(key, cost, rate=rate, burst=burst)

    async def aclose(self) -> None:
        """Nothing to close."""


class RedisBuckets:
    """One Redis for an app's limits: its clients (sync for worker threads, asyncio for the
    event loop), the script, and whether Redis is reachable right now.

    After a failure, Redis is not asked again for ``retry_interval`` seconds: while it is
    down or frozen, calls take their fallback at once instead of each waiting ``timeout``.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ratelimit:",
        timeout: float = 0.25,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.retry_interval = retry_interval
        self._clock = clock
        # One immediate retry re-opens a broken connection (a Redis restart, a failover);
        # a timeout is not retried, so a call waits at most about twice ``timeout``.
        self._client = redis_client(url, timeout=timeout, retries=1)
        self._async_client = async_redis_client(url, timeout=timeout, retries=1)
        self._script: Script = self._client.register_script(_ACQUIRE)
        self._async_script: AsyncScript = self._async_client.register_script(_ACQUIRE)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._outage = False

    def available(self) -> bool:
        """Whether to ask Redis now (False for ``retry_interval`` after a failure)."""
        return self._clock() >= self._down_until

    def failed(self, exc: redis.RedisError) -> None:
        """Redis could not answer: stop asking for a while; warn at the outage's start."""
        with self._lock:
            self._down_until = self._clock() + self.retry_interval
            first, self._outage = not self._outage, True
        if first:
            # The exception's class only: its text may carry the URL (and its password).
            logger.warning(
                "rate limits: Redis unavailable (%s); limits fall back to their outage "
                "behaviour (per-process buckets) until it answers",
                type(exc).__name__,
            )

    def answered(self) -> None:
        """Redis answered: end the outage (logged once)."""
        if self._outage:
            with self._lock:
                ended, self._outage = self._outage, False
            if ended:
                logger.warning("rate limits: Redis answers again; budgets are shared again")

    def run(self, key: str, rate: float, size: float, need: float) -> int:
        """The script for one bucket (blocking): 0 or the wait in microseconds.

        Raises:
            redis.RedisError: Redis failed or timed out.
        """
        return int(self._script(keys=[key], args=[rate, size, need]))

    async def run_async(self, key: str, rate: float, size: float, need: float) -> int:
        """As :meth:`run`, on the event loop."""
        return int(await self._async_script(keys=[key], args=[rate, size, need]))

    async def aclose(self) -> None:
        """Close both clients' connections."""
        self._client.close()
        await self._async_client.aclose()


class RedisRateLimiter:
    """Token buckets in Redis (``name`` keeps this limit's keys apart from the others'),
    one budget per key for every instance on the same Redis; see the module for outages.

    ``rate <= 0`` disables the limit (nothing is asked of Redis).
    """

    def __init__(
        self,
        buckets: RedisBuckets,
        name: str,
        rate: float,
        burst: int,
        *,
        on_outage: OnOutage = "local",
        max_keys: int = 100_000,
    ) -> None:
        _check(rate, burst)
        self._buckets = buckets
        self._prefix = f"{buckets.prefix}{name}:"
        self._rate = rate
        self._burst = burst
        self.on_outage: OnOutage = on_outage
        #: The per-process buckets used while Redis is unavailable.
        self.fallback = RateLimiter(rate, burst, max_keys=max_keys)

    @property
    def rate(self) -> float:
        """The default tokens a second (0: no limit)."""
        return self._rate

    @property
    def burst(self) -> int:
        """The default bucket size."""
        return self._burst

    def _key(self, key: str) -> str:
        # Hashed: a caller-chosen key has a bounded size and never shows in a key name.
        return self._prefix + hashlib.sha256(key.encode()).hexdigest()[:32]

    def acquire(
        self, key: str, cost: int = 1, *, rate: float | None = None, burst: int | None = None
    ) -> float | None:
        """As :meth:`RateLimiter.acquire`, from the bucket all instances share (blocking:
        one round trip to Redis, at most about twice its timeout)."""
        own, size, need = _shape(self._rate, self._burst, cost, rate, burst)
        if own <= 0:
            return None
        if self._buckets.available():
            try:
                wait = self._buckets.run(self._key(key), own, size, need)
            except redis.RedisError as exc:
                self._buckets.failed(exc)
            else:
                self._buckets.answered()
                return None if wait <= 0 else wait / 1_000_000
        return self._outage(key, cost, rate, burst)

    async def acquire_async(
        self, key: str, cost: int = 1, *, rate: float | None = None, burst: int | None = None
    ) -> float | None:
        """As :meth:`acquire`, without blocking the event loop."""
        own, size, need = _shape(self._rate, self._burst, cost, rate, burst)
        if own <= 0:
            return None
        if self._buckets.available():
            try:
                wait = await self._buckets.run_async(self._key(key), own, size, need)
            except redis.RedisError as exc:
                self._buckets.failed(exc)
            else:
                self._buckets.answered()
                return None if wait <= 0 else wait / 1_000_000
        return self._outage(key, cost, rate, burst)

    async def aclose(self) -> None:
        """Close the connections of the buckets (shared with the other limiters on them)."""
        await self._buckets.aclose()

    def _outage(self, key: str, cost: int, rate: float | None, burst: int | None) -> float | None:
        if self.on_outage == "refuse":
            return self._buckets.retry_interval
        return self.fallback.acquire(key, cost, rate=rate, burst=burst)


class Limiters:
    """Makes an app's limiters: in Redis when ``redis_url`` is given, else per process."""

    def __init__(
        self, redis_url: str | None, *, timeout: float = 0.25, retry_interval: float = 1.0
    ) -> None:
        #: None without Redis (see :class:`RedisBuckets` for the timeout and the interval).
        self.buckets = (
            RedisBuckets(redis_url, timeout=timeout, retry_interval=retry_interval)
            if redis_url
            else None
        )

    @property
    def shared(self) -> bool:
        """Whether the budgets are shared by every instance (Redis) or per process."""
        return self.buckets is not None

    def limiter(
        self, name: str, rate: float, burst: int, *, on_outage: OnOutage = "local"
    ) -> Limiter:
        """A limit of ``rate`` tokens a second, ``burst`` at once, per key; ``name`` keeps
        its buckets apart from the other limits' in Redis."""
        if self.buckets is None:
            return RateLimiter(rate, burst)
        return RedisRateLimiter(self.buckets, name, rate, burst, on_outage=on_outage)

    async def aclose(self) -> None:
        """Close the connections to Redis, if any."""
        if self.buckets is not None:
            await self.buckets.aclose()
