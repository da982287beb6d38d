"""Retrying calls the APIs could not serve: back-off with jitter, 429s waited out, and a
pause shared by the threads of one account."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import msgspec

from shared.client.errors import ApiError, ApiRateLimited, ApiUnavailable

__all__ = ["Pause", "RetryPolicy", "call_with_retries"]

T = TypeVar("T")


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How :func:`call_with_retries` waits. 429s do not count as retries: they are the
    account's pace, and are waited out (``Retry-After``) for up to ``rate_limit_patience``
    seconds in total."""

    retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    rate_limit_patience: float = 900.0

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter (half fixed, half random) for retry ``attempt``
        (0-based): spread out, so that clients failing together do not return together."""
        ceiling = min(self.max_delay, self.base_delay * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


class Pause:
    """A moment before which no call should start, shared by threads: a 429 for one call
    of an account is a 429 for all of them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        """No call before ``seconds`` from now (a later hold wins)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def remaining(self) -> float:
        """Seconds until calls may start again (0 when they may now)."""
        with self._lock:
            return max(0.0, self._until - self._clock())


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    pause: Pause | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[ApiError, float], None] | None = None,
) -> T:
    """``call()``, retried on :class:`ApiUnavailable`: at most ``policy.retries`` times with
    back-off (at least the answer's ``Retry-After``), and 429s waited out without counting.

    Raises:
        ApiRefused: at once (a retry would not help).
        ApiUnavailable: the last failure, once the retries or the patience are spent.
    """
    attempt = 0
    rate_limited_for = 0.0
    while True:
        while pause is not None and (wait := pause.remaining()) > 0:
            sleep(wait)
        try:
            return call()
        except ApiRateLimited as exc:
            failure: ApiError = exc
            wait = exc.retry_after or 1.0
            if rate_limited_for + wait > policy.rate_limit_patience:
                raise
            rate_limited_for += wait
            if pause is not None:
                pause.hold(wait)
            # A little jitter: callers woken together should not all hit a bucket that
            # has just refilled for one of them.
            delay = wait + random.uniform(0, 0.25)  # noqa: S311 - jitter, not a secret
        except ApiUnavailable as exc:
            failure = exc
            if attempt >= policy.retries:
                raise
            delay = max(policy.backoff(attempt), exc.retry_after or 0.0)
            attempt += 1
        if on_wait is not None:
            on_wait(failure, delay)
        sleep(delay)
