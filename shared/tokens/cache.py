"""A small TTL cache that never makes a caller wait for a reload it can answer without.

Used for everything we read from Vault on the request path (account documents, public
keys, key sets, the signing keys, the player's documents). For one key, by the age of its
entry (counted from when the read that produced it *started*, so a slow read does not make
its answer look younger than it is):

- **fresh** (younger than ``ttl``): returned as is; past ``refresh_ahead`` x ``ttl`` a
  background refresh starts, so a key in use is normally reloaded before it expires;
- **stale** (older than ``ttl``, younger than ``ttl + stale_if_error``): returned at once
  while *one* background refresh per key runs (stale-while-revalidate, single flight), but
  only while the key is being revalidated: within ``stale_while_revalidate`` seconds past
  the TTL, or while a refresh of it is running, or soon after one failed (Vault down or
  hung: stale-if-error). An entry nobody asked for since long after its TTL is reloaded in
  the foreground, so a change made in Vault (an account disabled) is seen within
  ``ttl + stale_while_revalidate`` whenever Vault answers, not only after an outage;
- **missing** (never loaded, dropped, or too old): loaded in the foreground, one load per
  key however many callers ask (they share its outcome), each caller waiting at most until
  its ``deadline`` (then :class:`~shared.errors.VaultUnavailable`; the load goes on and
  fills the cache). A failed foreground load still answers with a stale entry when one is
  younger than ``ttl + stale_if_error``.

Failures: a retryable one (Vault down) keeps the stale entry and is not retried for
``retry_interval`` seconds (a key with nothing cached fails at once meanwhile, instead of
each caller waiting a timeout again); a definite answer (non-retryable: the key is gone)
drops the entry, so the next caller loads it in the foreground and sees the answer. A
value read before :meth:`invalidate` never lands after it (a change was announced: the
read may predate it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar, cast

from shared.errors import ServiceError, VaultUnavailable

__all__ = ["TtlCache", "run_in_background"]

#: Background refreshes share a few threads: a hung Vault with many keys in use cannot make
#: one thread per key (each key has at most one refresh queued or running).
_BACKGROUND = ThreadPoolExecutor(max_workers=8, thread_name_prefix="refresh")
#: Foreground loads of callers with a deadline run here, so the caller can stop waiting.
_LOADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cache-load")


def run_in_background(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the shared refresh threads."""
    _BACKGROUND.submit(fn)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Entry(Generic[V]):
    __slots__ = ("at", "value")

    def __init__(self, at: float, value: V) -> None:
        self.at = at  # when the read that produced it started (the cache's clock)
        self.value = value


class _Flight(Generic[V]):
    """One foreground load of a key, whose outcome every caller of that key shares."""

    __slots__ = ("done", "error", "started", "value")

    def __init__(self, started: float) -> None:
        self.started = started
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class TtlCache(Generic[K, V]):
    """Thread-safe map of ``key -> value`` loaded on demand, with TTL, stale-while-revalidate
    and stale-if-error.

    Args:
        ttl: seconds an entry is fresh.
        stale_if_error: seconds past the TTL an entry may still be served, while it is
            revalidated or while its source fails (0: never serve an expired entry).
        retry_interval: after a failed load, seconds before the source is asked again for
            that key (capped at ``max(ttl, 1)``).
        refresh_ahead: fraction of the TTL after which an entry in use is refreshed in the
            background (None: only once expired).
        stale_while_revalidate: seconds past the TTL during which an expired entry is
            served at once while it is refreshed, when no refresh is running or failed: at
            least as long as a refresh may take (the callers pass their deadline). Off
            with a TTL of 0.
        deadline: default seconds a caller waits for a foreground load (None: as long as
            it takes); :meth:`get`'s ``deadline`` overrides it.
        clock: the TTL clock (tests move it by hand); deadlines use :func:`time.monotonic`.
        max_entries: entries kept (the oldest goes first).
        max_loading: foreground loads in flight at once; beyond, new keys fail at once.
    """

    def __init__(
        self,
        ttl: float,
        *,
        stale_if_error: float = 0.0,
        retry_interval: float = 5.0,
        refresh_ahead: float | None = None,
        stale_while_revalidate: float = 0.0,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
        max_loading: int = 256,
    ) -> None:
        self._ttl = ttl
        self._stale = stale_if_error
        # Never longer than the TTL (but at least a second): after an outage, a change in
        # Vault is picked up within max(TTL, 1 s) of its return.
        self._retry = min(retry_interval, max(ttl, 1.0))
        self._ahead = None if refresh_ahead is None else ttl * refresh_ahead
        # A TTL of 0 asks the source on every call (stale only if it fails), as before.
        self._revalidate = min(stale_while_revalidate, stale_if_error) if ttl > 0 else 0.0
        self._deadline = deadline
        self._clock = clock
        self._max = max_entries
        self._max_loading = max_loading
        self._entries: dict[K, _Entry[V]] = {}
        #: When a refresh of a key holding a value last failed (retryably).
        self._failed: dict[K, float] = {}
        #: For keys with no value yet: when loading last failed (retryably), and with what.
        #: Within ``retry_interval`` such keys fail at once instead of waiting a timeout
        #: again each, so a hung Vault cannot tie up threads with requests for unknown keys.
        self._missing: dict[K, tuple[float, ServiceError]] = {}
        #: When each key was last invalidated: reads started before must not land.
        self._invalidated: dict[K, float] = {}
        self._refreshing: set[K] = set()
        self._flights: dict[K, _Flight[V]] = {}
        self._guard = threading.Lock()  # for writes to the dicts

    def get(self, key: K, load: Callable[[], V], *, deadline: float | None = None) -> V:
        """The value for ``key``: cached (fresh, or stale while revalidated), else loaded
        with ``load()``.

        ``deadline`` (a :func:`time.monotonic` instant) bounds the wait for a foreground
        load; by default the cache's own ``deadline`` seconds from now.

        Raises:
            Whatever ``load`` raises, unless it is a retryable :class:`ServiceError` and a
            stale value younger than ``ttl + stale_if_error`` is available.
            VaultUnavailable: the deadline passed first, or too many loads are in flight,
                with no stale value to serve.
        """
        hit = self._entries.get(key)
        now = self._clock()
        if hit is not None:
            age = now - hit.at
            if age < self._ttl:
                if self._ahead is not None and age >= self._ahead:
                    self._refresh_in_background(key, load)
                return hit.value
            if self._revalidating(key, age, now):
                self._refresh_in_background(key, load)
                return hit.value
        else:
            self._fail_fast(key, now)
        if deadline is None and self._deadline is not None:
            deadline = time.monotonic() + self._deadline
        return self._load(key, load, hit, deadline)

    def holds(self, key: K) -> bool:
        """Whether :meth:`get` would answer ``key`` now without waiting for a load (fresh,
        or stale while revalidated): the caller may then skip a thread hop."""
        hit = self._entries.get(key)
        if hit is None:
            return False
        now = self._clock()
        age = now - hit.at
        return age < self._ttl or self._revalidating(key, age, now)

    def prefetch(self, key: K, load: Callable[[], V]) -> None:
        """Start the foreground load of ``key`` now unless :meth:`holds` says it is not
        needed, without waiting for it: a later :meth:`get` joins it. Lets a caller that
        needs several keys make their reads at once."""
        if self.holds(key):
            return
        failure = self._missing.get(key)
        if failure is not None and self._clock() - failure[0] < self._retry:
            return  # it just failed: get will say so at once
        with self._guard:
            if key in self._flights or len(self._flights) >= self._max_loading:
                return
            flight = self._flights[key] = _Flight[V](self._clock())
        _LOADS.submit(self._fly, key, load, flight)

    def __len__(self) -> int:
        """How many keys hold a value (fresh or stale)."""
        return len(self._entries)

    def _revalidating(self, key: K, age: float, now: float) -> bool:
        """Whether an expired entry of this ``age`` may be served while it is refreshed."""
        if age >= self._ttl + self._stale:
            return False
        if age < self._ttl + self._revalidate or key in self._refreshing:
            return True
        # A refresh failed lately (the source is down or hung): stale-if-error. "Lately"
        # covers the back-off and the refresh after it, so an idle key whose refresh failed
        # long ago is asked in the foreground again.
        failed_at = self._failed.get(key)
        return failed_at is not None and now - failed_at < self._retry + max(self._revalidate, 1.0)

    def _usable_stale(self, hit: _Entry[V] | None) -> bool:
        return hit is not None and self._clock() - hit.at < self._ttl + self._stale

    def _load(
        self, key: K, load: Callable[[], V], hit: _Entry[V] | None, deadline: float | None
    ) -> V:
        with self._guard:
            flight = self._flights.get(key)
            lead = flight is None
            if flight is None:
                if len(self._flights) >= self._max_loading:
                    busy = VaultUnavailable(
                        f"{len(self._flights)} reads already wait on Vault; retry later"
                    )
                    if self._usable_stale(hit) and hit is not None:
                        return hit.value
                    raise busy
                flight = self._flights[key] = _Flight[V](self._clock())
        if lead:
            if deadline is None:
                self._fly(key, load, flight)  # nobody to stop waiting: load right here
            else:
                _LOADS.submit(self._fly, key, load, flight)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not flight.done.wait(remaining):
            if self._usable_stale(hit) and hit is not None:
                return hit.value
            raise VaultUnavailable(
                "Vault did not answer within the deadline (the read goes on); retry later"
            )
        error = flight.error
        if error is None:
            return cast("V", flight.value)  # set before done, with no error
        if (
            isinstance(error, ServiceError)
            and error.retryable
            and self._usable_stale(hit)
            and hit is not None
        ):
            return hit.value
        raise error.with_traceback(None)

    def _fly(self, key: K, load: Callable[[], V], flight: _Flight[V]) -> None:
        """Run a foreground load and hand its outcome to its callers."""
        try:
            value = load()
        except BaseException as exc:  # noqa: BLE001 - handed to every caller, raised there
            with self._guard:
                if isinstance(exc, ServiceError) and exc.retryable:
                    now = self._clock()
                    if key in self._entries:
                        self._failed[key] = now
                    else:
                        if len(self._missing) >= self._max:
                            self._missing.clear()
                        self._missing[key] = (now, exc)
                elif isinstance(exc, ServiceError):  # a definite answer: nothing to serve
                    self._entries.pop(key, None)
                    self._failed.pop(key, None)
                del self._flights[key]
            flight.error = exc
        else:
            with self._guard:
                self._store(key, value, flight.started)
                del self._flights[key]
            flight.value = value
        flight.done.set()

    def _fail_fast(self, key: K, now: float) -> None:
        failure = self._missing.get(key)
        if failure is not None and now - failure[0] < self._retry:
            error = failure[1]
            raise type(error)(f"{error.detail} (failed {now - failure[0]:.1f} s ago)")

    def _refresh_in_background(self, key: K, load: Callable[[], V]) -> None:
        with self._guard:
            failed_at = self._failed.get(key)
            if (
                key in self._refreshing
                or key in self._flights
                or (failed_at is not None and self._clock() - failed_at < self._retry)
            ):
                return  # one refresh per key at a time, and none right after a failure
            self._refreshing.add(key)

        def run() -> None:
            started = self._clock()
            try:
                value = load()
            except ServiceError as exc:
                if exc.retryable:
                    with self._guard:
                        self._failed[key] = self._clock()
                else:  # a definite answer (e.g. account gone): reload in the foreground
                    self.invalidate(key)
            except Exception:  # noqa: BLE001 - a background refresh must never crash
                with self._guard:
                    self._failed[key] = self._clock()
            else:
                with self._guard:
                    self._store(key, value, started)
            finally:
                with self._guard:
                    self._refreshing.discard(key)

        run_in_background(run)

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as fresh now."""
        with self._guard:
            self._store(key, value, self._clock())

    def _store(self, key: K, value: V, started: float) -> None:
        """Keep ``value``, read from ``started`` on, unless something newer is known (a
        newer read, or an invalidation after the read began). Holds the guard."""
        dropped = self._invalidated.get(key)
        if dropped is not None:
            if started < dropped:
                return
            del self._invalidated[key]
        current = self._entries.get(key)
        if current is not None and current.at > started:
            return
        if current is None and len(self._entries) >= self._max:
            oldest = min(self._entries, key=lambda k: self._entries[k].at)
            del self._entries[oldest]
            self._failed.pop(oldest, None)
        self._entries[key] = _Entry(started, value)
        self._failed.pop(key, None)
        self._missing.pop(key, None)

    def expire_all(self) -> None:
        """Mark every entry expired: the next ``get`` serves it while it is reloaded (and
        still serves it if that fails, an outage), unlike :meth:`invalidate`."""
        with self._guard:
            past = self._clock() - self._ttl
            for entry in self._entries.values():
                entry.at = min(entry.at, past)

    def invalidate(self, key: K) -> None:
        """Forget ``key`` so the next ``get`` loads it in the foreground; a read already
        under way when this is called does not put its (maybe older) value back."""
        with self._guard:
            self._entries.pop(key, None)
            self._failed.pop(key, None)
            if len(self._invalidated) >= self._max:
                self._invalidated.clear()
            self._invalidated[key] = self._clock()
