"""One deadline for a whole verification, however many reads of Vault it needs.

A deadline is a :func:`time.monotonic` instant. Cache loads take it directly
(:meth:`shared.tokens.cache.TtlCache.get`); any other call that may block on Vault or a
JWKS endpoint goes through :func:`call_within`, which runs it on the caller's thread when
its own timeout ends before the deadline anyway (the common case: no thread hop), and
otherwise on a worker thread that the caller stops waiting for at the deadline.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from shared.errors import VerificationUnavailable

__all__ = ["call_within", "deadline_in"]

#: What a request may take beyond its own timeout (connecting, the timer's latency).
_SLACK: Final = 0.5
#: Calls that might outlast their caller's deadline. Bounded: when Vault hangs, callers
#: beyond these wait in the queue and are answered at their deadline all the same.
_POOL: Final = ThreadPoolExecutor(max_workers=16, thread_name_prefix="deadline")

T = TypeVar("T")


def deadline_in(seconds: float) -> float:
    """The deadline ``seconds`` from now."""
    return time.monotonic() + seconds


def call_within(deadline: float, fn: Callable[[], T], *, bound: float) -> T:
    """``fn()``, but given up at ``deadline``.

    ``bound`` is the longest ``fn`` can take by itself (its own timeout): when that fits in
    the time left, ``fn`` runs right here; otherwise on a worker thread, waited for until
    the deadline (an abandoned call finishes on its own; a queued one is cancelled).

    Raises:
        VerificationUnavailable: the deadline passed first (``UNKNOWN``, retryable).
        Whatever ``fn`` raises.
    """
    remaining = deadline - time.monotonic()
    if remaining >= bound + _SLACK:
        return fn()
    if remaining > 0:
        future = _POOL.submit(fn)
        try:
            return future.result(timeout=remaining)
        except concurrent.futures.TimeoutError:
            future.cancel()
    raise VerificationUnavailable(
        "no answer from Vault within the verification deadline; retry later"
    )
