"""Delivering the outbox's events: each player worker runs one :class:`Deliverer`.

An event is POSTed as JSON to the account's webhook URL with the Standard Webhooks headers
(``webhook-id``: the event's id, the same on every attempt; ``webhook-timestamp``: now;
``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` by the ``standardwebhooks`` library with
the account's secret) and the account's auth header. A 2xx answer delivers it; anything
else (another status, a refused connection, a deadline) retries it with exponential
back-off (``webhook_retry_base`` doubled each time, an hour at most, some jitter) until it
is ``webhook_park_after`` old, then parks it. The settings and secrets are read at each
attempt: a URL or secret changed meanwhile is the one used. Logs name the event, the
account and the outcome, never the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

import httpx
import msgspec
from redis.exceptions import RedisError
from standardwebhooks import Webhook

from shared.errors import ServiceError
from shared.identity.guarded_transport import GuardedTransport
from shared.identity.player_secrets import PlayerSecrets
from shared.identity.player_settings import WebhookSettings
from shared.identity.webhooks.events import Queued
from shared.identity.webhooks.outbox import Entry, Outbox

__all__ = ["Deliverer", "WebhookTarget"]

logger = logging.getLogger("shared.identity.webhooks")

#: The longest wait between two attempts.
_MAX_DELAY: Final = 3600.0
#: Bounds of one delivery: a receiver must answer within these.
_TIMEOUT: Final = httpx.Timeout(10.0, connect=3.0)
#: What is read of a receiver's answer (its body is not used).
_ANSWER_CAP: Final = 4096
#: An event's body is at most this (a form has at most 100 fields of 1,000 characters).
_BATCH: Final = 10

#: The account's webhook and secrets, as they are now (None: it has none any more).
WebhookTarget = tuple[WebhookSettings | None, PlayerSecrets]


class _Undeliverable(Exception):
    """This attempt failed; ``reason`` says why, in our words (no body, no secret)."""

    def __init__(self, reason: str, *, counts: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        #: False when the failure is ours (Vault unreachable), not the receiver's.
        self.counts = counts


class Deliverer:
    """Deliver the outbox's events from one worker (a consumer of the group)."""

    def __init__(
        self,
        outbox: Outbox,
        target: Callable[[str], Awaitable[WebhookTarget]],
        *,
        retry_base: float,
        park_after: float,
        claim_idle: float,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._target = target
        self._retry_base = retry_base
        self._park_after = park_after
        self._claim_idle_ms = int(claim_idle * 1000)
        self._clock = clock
        # No redirects, no proxies from the environment: the URL is the customer's, as set.
        self._http = http or httpx.AsyncClient(
            timeout=_TIMEOUT, follow_redirects=False, trust_env=False, transport=GuardedTransport()
        )
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        #: True while events are being delivered (a stop then waits for them to finish).
        self.busy = False

    async def run(self, stop: asyncio.Event, *, block_ms: int = 250) -> None:
        """Deliver until ``stop`` is set (noticed within ``block_ms``: a worker stops
        quickly); Redis outages are waited out, and an unexpected error ends one pass,
        not the loop."""
        while not stop.is_set():
            try:
                await self._outbox.ensure_group()
                break
            except RedisError:
                await _pause(stop, 1.0)
        while not stop.is_set():
            try:
                await self.step(block_ms=block_ms)
            except RedisError:
                logger.warning("webhook outbox: Redis unreachable; retrying in a second")
                await _pause(stop, 1.0)
            except Exception as exc:  # noqa: BLE001 - a bug must not end this worker's deliveries
                # The event stays unacknowledged: taken over after claim_idle, like a dead
                # worker's. Its type only: a message could quote the body.
                logger.error(  # noqa: TRY400 - no traceback, for the same reason
                    "webhook delivery failed unexpectedly; going on in a second",
                    extra={"exc_type": type(exc).__name__},
                )
                await _pause(stop, 1.0)

    async def step(self, *, block_ms: int = 0) -> int:
        """One pass: retries come due, abandoned deliveries, then new events; how many
        events were handled."""
        await self._outbox.promote_due(self._clock())
        entries = await self._outbox.reclaim(
            self.consumer, idle_ms=self._claim_idle_ms, count=_BATCH
        )
        if not entries:
            entries = await self._outbox.read(self.consumer, count=_BATCH, block_ms=block_ms)
        self.busy = True
        try:
            for entry in entries:
                await self._handle(entry)
        finally:
            self.busy = False
        return len(entries)

    async def _handle(self, entry: Entry) -> None:
        entry_id, queued = entry
        try:
            await self._deliver(queued)
        except _Undeliverable as failed:
            await self._failed(entry_id, queued, failed)
            return
        await self._outbox.done(entry_id)
        logger.info(
            "webhook delivered",
            extra={
                "event_id": queued.id,
                "account_id": queued.account,
                "attempt": queued.attempts + 1,
            },
        )

    async def _failed(self, entry_id: str, queued: Queued, failed: _Undeliverable) -> None:
        now = self._clock()
        attempts = queued.attempts + (1 if failed.counts else 0)
        later = msgspec.structs.replace(queued, attempts=attempts, reason=failed.reason)
        if now - queued.first_at >= self._park_after:
            await self._outbox.park(entry_id, later)
            logger.warning(
                "webhook parked after %d attempts: %s",
                attempts,
                failed.reason,
                extra={"event_id": queued.id, "account_id": queued.account},
            )
            return
        delay = min(self._retry_base * 2 ** max(attempts - 1, 0), _MAX_DELAY)
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
        await self._outbox.retry_at(entry_id, later, now + delay)
        logger.info(
            "webhook attempt failed (%s); next in %.1f s",
            failed.reason,
            delay,
            extra={"event_id": queued.id, "account_id": queued.account},
        )

    async def _deliver(self, queued: Queued) -> None:
        try:
            webhook, held = await self._target(queued.account)
        except ServiceError as exc:
            raise _Undeliverable(f"settings unreadable ({exc.code})", counts=False) from exc
        if webhook is None or held.webhook_secret is None:
            raise _Undeliverable("the account has no webhook any more")
        sent_at = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": queued.id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(held.webhook_secret).sign(queued.id, sent_at, queued.body),
        }
        if webhook.auth_header and held.webhook_auth_value:
            headers[webhook.auth_header] = held.webhook_auth_value
        try:
            async with self._http.stream(
                "POST", webhook.url, content=queued.body.encode(), headers=headers
            ) as answer:
                read = 0
                async for chunk in answer.aiter_raw():
                    read += len(chunk)
                    if read > _ANSWER_CAP:
                        break
        except httpx.TimeoutException as exc:
            raise _Undeliverable("the receiver did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise _Undeliverable(f"the receiver cannot be reached ({type(exc).__name__})") from exc
        if not 200 <= answer.status_code < 300:
            raise _Undeliverable(f"the receiver answered HTTP {answer.status_code}")

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
