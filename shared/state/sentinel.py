"""redis-py's Sentinel classes, with what a failover showed them to need (redis-py 8.1).

- :class:`MasterConnection`: a read that times out closes the connection (redis-py kept it,
  and the late reply answered the next command); a master that answers ``NOREPLICAS`` is
  left for the one the Sentinels name.
- :class:`SyncSentinel` / :class:`AsyncSentinel`: asking the Sentinels from many threads
  or tasks at once never loses one of them from the list (redis-py's reordering could
  write one Sentinel over another).
- :class:`SentinelMaster`: closing the client closes its Sentinel connections too.

Only :mod:`shared.state.connection` uses them.
"""

from __future__ import annotations

from typing import Any, Final

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

__all__ = [
    "AsyncMasterConnection",
    "AsyncSentinel",
    "AsyncSentinelMaster",
    "MasterConnection",
    "SentinelMaster",
    "SyncSentinel",
]

#: What a master configured with ``min-replicas-to-write`` answers a write when it has no
#: replica in reach: after a failover, an old master back (from a pause, a partition) still
#: believes it is one until the Sentinels demote it, seconds later.
_NO_REPLICAS: Final = "NOREPLICAS"
_DEMOTED: Final = "the node is no longer a master with replicas; asking the Sentinels again"


class MasterConnection(redis.sentinel.SentinelManagedConnection):
    """redis-py's Sentinel connection, closed when a read fails, and leaving a master that
    has lost its replicas.

    redis-py 8.1's synchronous Sentinel connection keeps its socket when a read times out
    (``disconnect_on_error`` defaults to False there, unlike every other connection of
    redis-py: redis/redis-py#4292). The reply still owed then goes to the next command
    sent on it: after a frozen master came back, our tests saw a replayed client assertion
    told "first use" and a fresh one "used". Closing it, as a plain connection does, is the
    fix.

    redis-py re-asks the Sentinels when a master answers ``READONLY`` (demoted). A master
    cut off from its replicas by a failover answers ``NOREPLICAS`` instead (when the data
    nodes set ``min-replicas-to-write``, as docs/decisions.md asks): without this, a client
    whose connection survived would keep writing to it, and those writes would be dropped
    when the Sentinels make it a replica.
    """

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """As redis-py's, closed on a failed read, ``NOREPLICAS`` a broken connection."""
        kwargs.setdefault("disconnect_on_error", True)
        try:
            return super().read_response(*args, **kwargs)
        except redis.ResponseError as exc:
            if not str(exc).startswith(_NO_REPLICAS):
                raise
            self.disconnect()  # type: ignore[no-untyped-call]
            raise redis.ConnectionError(_DEMOTED) from exc


class AsyncMasterConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    """As :class:`MasterConnection`, for asyncio (whose reads close on failure already)."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """As redis-py's, with ``NOREPLICAS`` a broken connection (retried elsewhere)."""
        try:
            return await super().read_response(*args, **kwargs)
        except redis.ResponseError as exc:
            if not str(exc).startswith(_NO_REPLICAS):
                raise
            await self.disconnect()
            raise redis.ConnectionError(_DEMOTED) from exc


class SentinelMaster(redis.Redis):
    """The service's master; closing it closes its connections to the Sentinels too."""

    sentinels_client: redis.sentinel.Sentinel | None = None

    def close(self) -> None:
        """Close the master's connections, then the Sentinels'."""
        try:
            super().close()
        finally:
            if self.sentinels_client is not None:
                self.sentinels_client.close()


class AsyncSentinelMaster(redis.asyncio.Redis):
    """As :class:`SentinelMaster`, for asyncio."""

    sentinels_client: redis.asyncio.sentinel.Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the master's connections, then the Sentinels'."""
        try:
            await super().aclose(close_connection_pool)
        finally:
            if self.sentinels_client is not None:
                await self.sentinels_client.aclose()


class SyncSentinel(redis.sentinel.Sentinel):
    """redis-py's Sentinel, asking the Sentinels in a snapshot of its list.

    redis-py moves the Sentinel that answered to the front by swapping two places of the
    list it is iterating, from every thread at once: a swap based on a stale position
    writes one Sentinel over another, and the one lost is never asked again (nor closed).
    The list is replaced whole here, never changed in place.
    """

    def discover_master(self, service_name: str) -> tuple[str, int]:
        """The master's (host, port) as the first Sentinel that knows a sound one says.

        Raises:
            redis.sentinel.MasterNotFoundError: no Sentinel answered or named one.
        """
        errors = []
        for sentinel in list(self.sentinels):
            try:
                masters: Any = sentinel.sentinel_masters()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                errors.append(f"{sentinel} - {exc!r}")
                continue
            state = masters.get(service_name)
            if state and self.check_master_state(state, service_name):  # type: ignore[no-untyped-call]
                self.sentinels = [sentinel, *(s for s in self.sentinels if s is not sentinel)]
                return state["ip"], state["port"]
        found = f" : {', '.join(errors)}" if errors else ""
        raise redis.sentinel.MasterNotFoundError(f"No master found for {service_name!r}{found}")


class AsyncSentinel(redis.asyncio.sentinel.Sentinel):
    """As :class:`SyncSentinel`, for asyncio (tasks interleave at every await)."""

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        """As :meth:`SyncSentinel.discover_master`.

        Raises:
            redis.asyncio.sentinel.MasterNotFoundError: no Sentinel answered or named one.
        """
        errors = []
        for sentinel in list(self.sentinels):
            try:
                masters: Any = await sentinel.sentinel_masters()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                errors.append(f"{sentinel} - {exc!r}")
                continue
            state = masters.get(service_name)
            if state and self.check_master_state(state, service_name):
                self.sentinels = [sentinel, *(s for s in self.sentinels if s is not sentinel)]
                return state["ip"], state["port"]
        found = f" : {', '.join(errors)}" if errors else ""
        raise redis.asyncio.sentinel.MasterNotFoundError(
            f"No master found for {service_name!r}{found}"
        )
