"""The webhook outbox in Redis: a stream read by one consumer group, retries and parked
events, every move between them one atomic script.

- ``<stream>``: events to deliver (``XADD`` by the participation script, by retries coming
  due and by replays); the ``deliverers`` group spreads them over every worker; an entry a
  dead worker held is taken over after ``claim_idle`` (``XAUTOCLAIM``).
- ``<stream>:retry`` (sorted set, score = when) with ``<stream>:retry-bodies``: failed
  events waiting for their next attempt.
- ``<stream>:parked:<account>`` (hash): events retried for ``park_after`` and still not
  delivered, kept until ``tokenctl webhooks replay`` sends them again.

An event is always in exactly one of these places (each move acknowledges and deletes the
stream entry in the same script that files it elsewhere), so none is lost and none is
delivered twice by design; a crash between a delivery and its acknowledgement can send
one twice, with the same ``webhook-id`` (at least once). Redis must persist (append-only
file) for this to survive a Redis restart.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import redis.asyncio
from redis.exceptions import ResponseError

from shared.identity.webhooks.events import Queued

__all__ = ["GROUP", "KEY_PREFIX", "Outbox", "outbox_stream"]

#: The consumer group every player worker reads the stream in.
GROUP: Final = "deliverers"
#: The prefix of the player's Redis keys.
KEY_PREFIX: Final = "player:"


def outbox_stream(prefix: str = KEY_PREFIX) -> str:
    """The outbox stream's key under the player's key ``prefix``."""
    return f"{prefix}webhooks:outbox"


# KEYS: stream, retry, bodies; ARGV: entry id, event id, due, event JSON, group.
_RETRY: Final = """
redis.call('XACK', KEYS[1], ARGV[5], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
return 1
"""
# KEYS: stream, retry, bodies; ARGV: now, how many.
_PROMOTE: Final = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[3], id)
  if body then redis.call('XADD', KEYS[1], '*', 'event', body) end
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
return #ids
"""
# KEYS: stream, parked; ARGV: entry id, event id, event JSON, group.
_PARK: Final = """
redis.call('XACK', KEYS[1], ARGV[4], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
# KEYS: stream; ARGV: entry id, group.
_DONE: Final = """
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
"""
# KEYS: stream, parked; ARGV: event id, event JSON (reset).
_REPLAY: Final = """
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[1], '*', 'event', ARGV[2])
return 1
"""

Entry = tuple[str, Queued]


def _decode(fields: dict[bytes, bytes]) -> Queued | None:
    try:
        return msgspec.json.decode(fields[b"event"], type=Queued)
    except (KeyError, msgspec.DecodeError):
        return None  # not ours: acknowledged and dropped by the caller


class Outbox:
    """The outbox of the Redis ``client`` (the player's pool), under ``stream``."""

    def __init__(self, client: redis.asyncio.Redis, stream: str) -> None:
        self._redis = client
        self.stream = stream
        self._retry_key = f"{stream}:retry"
        self._bodies_key = f"{stream}:retry-bodies"
        self._retry = client.register_script(_RETRY)
        self._promote = client.register_script(_PROMOTE)
        self._park = client.register_script(_PARK)
        self._done = client.register_script(_DONE)
        self._replay = client.register_script(_REPLAY)

    def parked_key(self, account: str) -> str:
        """The hash of ``account``'s parked events."""
        return f"{self.stream}:parked:{account}"

    async def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start) unless it exists."""
        try:
            await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def add(self, queued: Queued) -> None:
        """Queue ``queued`` for delivery."""
        await self._redis.xadd(self.stream, {"event": msgspec.json.encode(queued)})

    def _entries(self, raw: Any) -> tuple[list[Entry], list[str]]:
        entries, junk = [], []
        for entry_id, fields in raw:
            name = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            queued = _decode(fields) if fields else None
            if queued is None:
                junk.append(name)
            else:
                entries.append((name, queued))
        return entries, junk

    async def read(self, consumer: str, *, count: int, block_ms: int) -> list[Entry]:
        """New events for ``consumer`` (waits up to ``block_ms`` for one)."""
        # RESP2: [[stream, [(id, fields), ...]]] (the types describe RESP3's dict too).
        answer: Any = await self._redis.xreadgroup(
            GROUP, consumer, {self.stream: ">"}, count=count, block=block_ms or None
        )
        if not answer:
            return []
        entries, junk = self._entries(answer[0][1])
        for entry_id in junk:
            await self.done(entry_id)
        return entries

    async def reclaim(self, consumer: str, *, idle_ms: int, count: int) -> list[Entry]:
        """Events another consumer took and left unacknowledged for ``idle_ms``."""
        answer: Any = await self._redis.xautoclaim(
            self.stream, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=count
        )
        entries, junk = self._entries(answer[1])
        for entry_id in junk:
            await self.done(entry_id)
        return entries

    async def done(self, entry_id: str) -> None:
        """Delivered (or not ours): acknowledge and delete the stream entry."""
        await self._done(keys=[self.stream], args=[entry_id, GROUP])

    async def retry_at(self, entry_id: str, queued: Queued, due: float) -> None:
        """Move the event out of the stream until ``due``."""
        await self._retry(
            keys=[self.stream, self._retry_key, self._bodies_key],
            args=[entry_id, queued.id, due, msgspec.json.encode(queued), GROUP],
        )

    async def promote_due(self, now: float, *, count: int = 100) -> int:
        """Put retries whose time has come back in the stream; how many."""
        return int(
            await self._promote(
                keys=[self.stream, self._retry_key, self._bodies_key], args=[now, count]
            )
        )

    async def park(self, entry_id: str, queued: Queued) -> None:
        """Move the event out of the stream into its account's parked events."""
        await self._park(
            keys=[self.stream, self.parked_key(queued.account)],
            args=[entry_id, queued.id, msgspec.json.encode(queued), GROUP],
        )

    async def parked(self, account: str) -> list[Queued]:
        """``account``'s parked events, oldest first."""
        raw = await self._redis.hvals(self.parked_key(account))
        events = [msgspec.json.decode(value, type=Queued) for value in raw]
        return sorted(events, key=lambda q: (q.first_at, q.id))

    async def replay(self, account: str, event_ids: list[str] | None, now: float) -> list[str]:
        """Queue parked events again (all of ``account``'s, or those named), with a fresh
        retry window; the ids queued."""
        replayed = []
        for queued in await self.parked(account):
            if event_ids is not None and queued.id not in event_ids:
                continue
            again = msgspec.structs.replace(queued, first_at=now, attempts=0, reason=None)
            if await self._replay(
                keys=[self.stream, self.parked_key(account)],
                args=[queued.id, msgspec.json.encode(again)],
            ):
                replayed.append(queued.id)
        return replayed

    async def waiting(self) -> int:
        """Events not yet delivered nor parked (in the stream or waiting to be retried)."""
        length = await self._redis.xlen(self.stream)
        retries = await self._redis.zcard(self._retry_key)
        return int(length) + int(retries)
