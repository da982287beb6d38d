"""The rate limits' token buckets, now in :mod:`shared.state.rate_limits` (per process, or
shared by every instance through Redis); re-exported here for the imports that name
``shared.server.rate_limits``."""

from __future__ import annotations

from shared.state.rate_limits import Limiter, Limiters, RateLimiter, RedisRateLimiter

__all__ = ["Limiter", "Limiters", "RateLimiter", "RedisRateLimiter"]
