"""Shared state in Redis: one way to connect (a single node or a Sentinel set-up).

Every piece of state the instances share (the replay store, the rate limits, the player's
participation counts, SSO sign-ins and the webhook outbox) connects through
:func:`redis_client` / :func:`async_redis_client`, so one ``REDIS_URL`` grammar holds for all.
"""

from __future__ import annotations

from shared.state.connection import async_redis_client, redis_client, redis_target
from shared.state.rate_limits import (
    Limiter,
    Limiters,
    RateLimiter,
    RedisBuckets,
    RedisRateLimiter,
)

__all__ = [
    "Limiter",
    "Limiters",
    "RateLimiter",
    "RedisBuckets",
    "RedisRateLimiter",
    "async_redis_client",
    "redis_client",
    "redis_target",
]
