"""Single-use keys (a client assertion's ``jti``) remembered until they expire.

RFC 7523 §3 lets the token endpoint refuse an assertion whose ``jti`` it has already seen;
we remember each ``account_id:jti`` until the assertion could no longer be accepted anyway.
With several app instances the memory has to be shared, so :func:`replay_store` picks Redis
when ``REDIS_URL`` is set and a process-local store otherwise.

Both stores **fail closed**: when they cannot tell whether a key is new (Redis unreachable,
the memory store full of live keys) they raise :class:`ReplayStoreUnavailable` instead of
answering, because treating an unknown as a first use would let a replay through.

Keys are hashed (SHA-256) before they are stored: a caller-chosen ``jti`` then has a bounded
size and never appears in a Redis key name.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from shared.errors import ConfigurationError, ReplayStoreUnavailable
from shared.settings import Settings
from shared.state import redis_client

__all__ = [
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "check_replay_settings",
    "replay_store",
]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _check_expiry(expires_at: float) -> None:
    if not math.isfinite(expires_at):
        raise ValueError(f"expires_at must be a finite unix time, got {expires_at!r}")


class ReplayStore(Protocol):
    """Where single-use keys are recorded; see :func:`replay_store`."""

    def first_use(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at`` (unix seconds); True only the first time.

        Returns False while an earlier record of ``key`` has not expired. An ``expires_at``
        already past records nothing and returns True.

        .. warning::
            Pass the last instant the assertion would still be *accepted* (its ``exp`` plus
            the verifier's leeway), not ``exp`` alone: a record that expires before the
            assertion does leaves a window in which it can be replayed.

        Raises:
            ReplayStoreUnavailable: the store cannot tell; refuse the request (retryable).
        """
        ...

    def release(self, key: str) -> None:
        """Forget ``key``: the request that recorded it failed on our side (e.g. Vault could
        not sign), so the client may retry with the same assertion.

        Raises:
            ReplayStoreUnavailable: the store could not be reached (the key then simply
                stays recorded until it expires).
        """
        ...


class MemoryReplayStore:
    """A process-local, thread-safe :class:`ReplayStore` for a single app instance.

    Expired keys are purged on every call (a heap ordered by expiry makes that cheap), so
    memory follows the number of *live* keys, which ``max_entries`` caps. When the cap is
    reached and nothing has expired, new keys are refused rather than live ones forgotten.
    """

    def __init__(
        self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        # (expires_at, digest) for every entry of ``_expiry``: purging expired keys pops from
        # the front. A released key leaves its heap item behind; purging skips items that no
        # longer match the recorded expiry.
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are currently recorded (expired ones included until the next call)."""
        return len(self._expiry)

    def first_use(self, key: str, expires_at: float) -> bool:
        """See :meth:`ReplayStore.first_use`.

        Raises:
            ReplayStoreUnavailable: ``max_entries`` live keys are recorded already.
        """
        _check_expiry(expires_at)
        digest = _digest(key)
        with self._lock:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                when, expired = heapq.heappop(self._heap)
                if self._expiry.get(expired) == when:
                    del self._expiry[expired]
            if digest in self._expiry:
                return False
            if expires_at <= now:
                return True
            if len(self._expiry) >= self._max:
                raise ReplayStoreUnavailable(
                    f"the replay store holds {self._max} unexpired keys; refusing new ones"
                )
            self._expiry[digest] = expires_at
            heapq.heappush(self._heap, (expires_at, digest))
            return True

    def release(self, key: str) -> None:
        """See :meth:`ReplayStore.release`."""
        with self._lock:
            self._expiry.pop(_digest(key), None)


class RedisReplayStore:
    """A :class:`ReplayStore` in Redis, shared by every app instance that uses the same URL.

    One ``SET key 1 NX PXAT <ms>`` per call: Redis decides atomically which caller was first
    and expires the key itself. ``timeout`` bounds each connect and each command. A command
    whose connection broke is retried once, immediately; a timeout or any other failure
    raises at once, so while Redis is down a caller waits at most about twice ``timeout``
    (connect, then command).
    """

    def __init__(self, url: str, *, prefix: str = "replay:", timeout: float = 1.0) -> None:
        self._prefix = prefix
        # One immediate retry after a broken connection, none after a timeout (see
        # shared.state): a failover re-opens the connection to the new master.
        self._client = redis_client(url, timeout=timeout, retries=1)

    def first_use(self, key: str, expires_at: float) -> bool:
        """See :meth:`ReplayStore.first_use`.

        Raises:
            ReplayStoreUnavailable: Redis failed or did not answer in time.
        """
        _check_expiry(expires_at)
        # Rounded up so the key lives at least until ``expires_at``; Redis refuses PXAT <= 0.
        pxat = max(1, math.ceil(expires_at * 1000))
        try:
            # Should Redis apply the SET but its answer be lost, the caller's retry is told
            # "already used": a false refusal, never a replay let through.
            created = self._client.set(self._prefix + _digest(key), b"1", nx=True, pxat=pxat)
        except redis.RedisError as exc:
            # Whatever went wrong, we do not know whether the key was new: fail closed.
            raise ReplayStoreUnavailable(
                f"Redis could not record a single-use key ({type(exc).__name__})"
            ) from exc
        return bool(created)

    def release(self, key: str) -> None:
        """See :meth:`ReplayStore.release`."""
        try:
            self._client.delete(self._prefix + _digest(key))
        except redis.RedisError as exc:
            raise ReplayStoreUnavailable(
                f"Redis could not release a single-use key ({type(exc).__name__})"
            ) from exc

    def close(self) -> None:
        """Close the connections to Redis."""
        self._client.close()


def replay_store(settings: Settings) -> ReplayStore:
    """The replay store the settings call for: Redis when ``REDIS_URL`` is set, else memory.

    Build it once per process: the memory store only protects the instance that holds it.
    """
    if settings.redis_url:
        return RedisReplayStore(settings.redis_url)
    return MemoryReplayStore()


def check_replay_settings(settings: Settings, *, processes: int = 1) -> None:
    """Refuse a replay store that would not be shared by every instance of the API.

    Without ``REDIS_URL`` each instance remembers ``jti``s on its own, so one client
    assertion is accepted once per instance: that is only safe when
    ``AUTHZ_SINGLE_INSTANCE`` says this is the only one, in a single process.

    Raises:
        ConfigurationError: one line naming both variables.
    """
    if settings.redis_url:
        return
    if processes > 1:
        raise ConfigurationError(
            f"{processes} authz workers need REDIS_URL, so that client assertions stay "
            "single-use across them (AUTHZ_SINGLE_INSTANCE=1 allows one process only)"
        )
    if not settings.authz_single_instance:
        raise ConfigurationError(
            "REDIS_URL is required: without it each authz instance keeps its own replay store "
            "and accepts a client assertion once per instance; set AUTHZ_SINGLE_INSTANCE=1 "
            "if this is the only instance"
        )
