"""A small TTL cache that keeps serving stale entries while the source is down.

Used for everything we read from Vault or a customer's endpoint on the verification path
(account documents, public keys): a fresh entry is returned as is; an expired one is
reloaded; if reloading fails with a retryable error, the stale entry keeps being served
for ``stale_if_error`` seconds, so an outage of Vault does not stop tokens that we can
check with what we already hold. After a failed reload the stale entry is served without
trying again for ``retry_interval`` seconds: during an outage (a hung Vault especially)
callers do not each wait a full timeout before getting the stale value.

With ``refresh_ahead`` (a fraction of the TTL), an entry older than that fraction is
returned at once and reloaded in a background thread, so requests for busy keys never wait
for Vault: the hot path only meets Vault for a key seen for the first time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from shared.errors import ServiceError

__all__ = ["TtlCache", "run_in_background"]

#: Background refreshes share a few threads: a hung Vault with many keys in use cannot make
#: one thread per key.
_BACKGROUND = ThreadPoolExecutor(max_workers=4, thread_name_prefix="refresh")


def run_in_background(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the shared refresh threads."""
    _BACKGROUND.submit(fn)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Thread-safe map of ``key -> value`` loaded on demand, with TTL and stale-if-error."""

    def __init__(
        self,
        ttl: float,
        *,
        stale_if_error: float = 0.0,
        retry_interval: float = 5.0,
        refresh_ahead: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._ttl = ttl
        self._stale = stale_if_error
        # Never longer than the TTL (but at least a second): after an outage, a change in
        # Vault is picked up within max(TTL, 1 s) of its return.
        self._retry = min(retry_interval, max(ttl, 1.0))
        self._ahead = None if refresh_ahead is None else ttl * refresh_ahead
        self._refreshing: set[K] = set()
        self._clock = clock
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._failed: dict[K, float] = {}
        #: For keys with no value yet: when loading last failed (retryably), and with what.
        #: Within ``retry_interval`` such keys fail at once instead of waiting a timeout
        #: again each, so a hung Vault cannot tie up threads with requests for unknown keys.
        self._missing: dict[K, tuple[float, ServiceError]] = {}
        # Striped loader locks: bounded memory whatever keys callers ask for.
        self._locks = tuple(threading.Lock() for _ in range(64))
        self._guard = threading.Lock()  # for writes to the dicts

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value for ``key``, loading it with ``load()`` when missing or expired.

        Raises:
            Whatever ``load`` raises, unless it is a retryable :class:`ServiceError` and a
            stale value younger than ``stale_if_error`` is available.
        """
        hit = self._entries.get(key)
        now = self._clock()
        if hit is not None and self._usable(key, hit[0], now):
            if self._ahead is not None and now - hit[0] >= self._ahead:
                self._refresh_in_background(key, load)
            return hit[1]
        if hit is None:
            self._fail_fast(key, now)
        with self._locks[hash(key) % len(self._locks)]:
            # One loader per key: a burst of misses makes one Vault call.
            hit = self._entries.get(key)
            now = self._clock()
            if hit is not None and self._usable(key, hit[0], now):
                return hit[1]
            if hit is None:
                self._fail_fast(key, now)  # another caller just failed while we waited
            try:
                value = load()
            except ServiceError as exc:
                if exc.retryable and hit is not None and now - hit[0] < self._ttl + self._stale:
                    with self._guard:
                        self._failed[key] = now
                    return hit[1]
                if exc.retryable and hit is None:
                    with self._guard:
                        if len(self._missing) >= self._max:
                            self._missing.clear()
                        self._missing[key] = (now, exc)
                raise
            self.put(key, value)
            return value

    def holds(self, key: K) -> bool:
        """Whether :meth:`get` would answer ``key`` now without loading it (fresh, or stale
        during a failed reload's back-off): the caller may then skip a thread hop."""
        hit = self._entries.get(key)
        return hit is not None and self._usable(key, hit[0], self._clock())

    def __len__(self) -> int:
        """How many keys hold a value (fresh or stale)."""
        return len(self._entries)

    def _fail_fast(self, key: K, now: float) -> None:
        failure = self._missing.get(key)
        if failure is not None and now - failure[0] < self._retry:
            error = failure[1]
            raise type(error)(f"{error.detail} (failed {now - failure[0]:.1f} s ago)")

    def _refresh_in_background(self, key: K, load: Callable[[], V]) -> None:
        with self._guard:
            failed_at = self._failed.get(key)
            if key in self._refreshing or (
                failed_at is not None and self._clock() - failed_at < self._retry
            ):
                return  # one refresh per key at a time, and none right after a failure
            self._refreshing.add(key)

        def run() -> None:
            try:
                self.put(key, load())
            except ServiceError as exc:
                if exc.retryable:
                    with self._guard:
                        self._failed[key] = self._clock()
                else:  # a definite answer (e.g. account gone): reload in the foreground
                    self.invalidate(key)
            except Exception:  # noqa: BLE001 - a background refresh must never crash
                with self._guard:
                    self._failed[key] = self._clock()
            finally:
                with self._guard:
                    self._refreshing.discard(key)

        run_in_background(run)

    def _usable(self, key: K, stored_at: float, now: float) -> bool:
        """Fresh, or stale during the back-off that follows a failed reload."""
        if now - stored_at < self._ttl:
            return True
        failed_at = self._failed.get(key)
        return (
            failed_at is not None
            and now - failed_at < self._retry
            and now - stored_at < self._ttl + self._stale
        )

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as fresh now."""
        with self._guard:
            if len(self._entries) >= self._max and key not in self._entries:
                oldest = min(self._entries, key=lambda k: self._entries[k][0])
                del self._entries[oldest]
                self._failed.pop(oldest, None)
            self._entries[key] = (self._clock(), value)
            self._failed.pop(key, None)
            self._missing.pop(key, None)

    def expire_all(self) -> None:
        """Mark every entry expired: the next ``get`` reloads it, and still serves it stale
        if that fails (an outage), unlike :meth:`invalidate`."""
        with self._guard:
            past = self._clock() - self._ttl
            self._entries = {k: (min(t, past), v) for k, (t, v) in self._entries.items()}

    def invalidate(self, key: K) -> None:
        """Forget ``key`` so the next ``get`` reloads it."""
        with self._guard:
            self._entries.pop(key, None)
            self._failed.pop(key, None)
