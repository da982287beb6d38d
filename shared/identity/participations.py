"""Participation counts per (account, campaign, participant), in Redis, for ``limit.nb``.

One Lua script checks and records a participation atomically (Redis runs a script alone),
so two workers, or two instances, racing for a participant's last participation cannot
both win. The same script spends the form's ``jti`` (one form, one participation) and
appends the submitted entry to the campaign's stream
(``player:entries:{account:campaign}``), so a participation is never counted without its
entry nor kept without being counted. When the participant changed prefilled profile
fields and the account has a webhook, the same script appends the ``profile.updated``
event to the webhook outbox (:mod:`shared.identity.webhooks`): an accepted form's event is
never lost, nor sent for a form that was refused. Count keys carry a hash of the subject,
not the subject itself; every key of a campaign shares a hash tag. The outbox stream is one
for all campaigns (one consumer group reads it), so a script with an event spans two slots:
fine on one Redis (our deployments), not on a Redis Cluster. Nothing expires but spent form
ids: a campaign's limit holds for as long as the campaign runs.
"""

from __future__ import annotations

import hashlib
from typing import Final

import redis.asyncio
from redis.exceptions import RedisError

from shared.errors import VerificationUnavailable
from shared.identity.errors import FormUsed, ParticipationLimitReached
from shared.identity.webhooks.outbox import KEY_PREFIX, outbox_stream
from shared.state import async_redis_client

__all__ = ["Participations"]

_RECORD: Final = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
if limit >= 0 and count >= limit then return -2 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
redis.call('XADD', KEYS[3], '*', 'entry', ARGV[3])
if ARGV[4] ~= '' then redis.call('XADD', KEYS[4], '*', 'event', ARGV[4]) end
return redis.call('INCR', KEYS[1])
"""
_UNAVAILABLE: Final = "participations cannot be counted right now; try again in a moment"


class Participations:
    """Count and record participations in the Redis at ``url``."""

    def __init__(self, url: str, *, prefix: str = KEY_PREFIX, timeout: float = 2.0) -> None:
        self._prefix = prefix
        #: The webhook outbox's stream (shared.identity.webhooks.Outbox reads it).
        self.outbox_key = outbox_stream(prefix)
        self._client: redis.asyncio.Redis = async_redis_client(url, timeout=timeout, retries=1)
        self._record = self._client.register_script(_RECORD)

    def _keys(self, account: str, campaign: str, subject: str) -> tuple[str, str]:
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        tag = f"{{{account}:{campaign}}}"
        return f"{self._prefix}count:{tag}:{digest}", f"{self._prefix}form:{tag}:"

    def entries_key(self, account: str, campaign: str) -> str:
        """The stream of the campaign's accepted entries."""
        return f"{self._prefix}entries:{{{account}:{campaign}}}"

    async def count(self, account: str, campaign: str, subject: str) -> int:
        """Participations recorded so far.

        Raises:
            VerificationUnavailable: Redis cannot be reached (``UNKNOWN``, retryable).
        """
        try:
            value = await self._client.get(self._keys(account, campaign, subject)[0])
        except RedisError as exc:
            raise VerificationUnavailable(_UNAVAILABLE) from exc
        return int(value or 0)

    async def record(
        self,
        account: str,
        campaign: str,
        subject: str,
        *,
        limit: int | None,
        form_id: str,
        ttl: int,
        entry: bytes,
        event: bytes | None = None,
    ) -> int:
        """Record one participation from the form ``form_id`` with its ``entry`` (JSON),
        and queue the webhook ``event`` (JSON) with it, atomically; the new count.

        Raises:
            FormUsed: this form was submitted already.
            ParticipationLimitReached: ``limit`` participations were recorded already.
            VerificationUnavailable: Redis cannot be reached (nothing was recorded).
        """
        count_key, form_key = self._keys(account, campaign, subject)
        try:
            result = int(
                await self._record(
                    keys=[
                        count_key,
                        form_key + form_id,
                        self.entries_key(account, campaign),
                        self.outbox_key,
                    ],
                    args=[-1 if limit is None else limit, max(ttl, 1), entry, event or b""],
                )
            )
        except RedisError as exc:
            raise VerificationUnavailable(_UNAVAILABLE) from exc
        if result == -1:
            raise FormUsed("this form was submitted already")
        if result == -2:
            raise ParticipationLimitReached(
                "you have already taken part as many times as this campaign allows"
            )
        return result

    async def ping(self) -> None:
        """Raise unless Redis answers (readiness).

        Raises:
            VerificationUnavailable: Redis cannot be reached (``UNKNOWN``, retryable).
        """
        try:
            await self._client.ping()
        except RedisError as exc:
            raise VerificationUnavailable(_UNAVAILABLE) from exc

    @property
    def client(self) -> redis.asyncio.Redis:
        """The connection pool (the webhook outbox shares it)."""
        return self._client

    async def close(self) -> None:
        """Close the connections."""
        await self._client.aclose()
