"""A per-key token bucket: the token endpoint's per-account rate limit.

Each key (an account id) has a bucket of at most ``burst`` tokens that refills at ``rate``
tokens a second; a request takes one token or is refused with the time until one is back,
which the endpoint sends as ``Retry-After``. A call may name its own rate and burst (an
account's limits from its document): the bucket then follows them. The limit is per
process: with several app instances each applies it on its own share of the traffic.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Thread-safe token buckets keyed by string, at most ``max_keys`` of them.

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
        if not math.isfinite(rate):
            raise ValueError(f"rate must be a finite number of tokens a second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self._rate = rate
        self._burst = float(burst)
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
        return int(self._burst)

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
        rate = self._rate if rate is None else rate
        if rate <= 0:
            return None
        size = self._burst if burst is None else float(max(burst, 1))
        need = float(min(max(cost, 1), size))
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
