"""The webhook outbox and its delivery over a real Redis and a real receiver: signed per
Standard Webhooks, retried with back-off, parked, replayed, taken over from a dead worker."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import pytest
import redis.asyncio

from shared.identity import PlayerSecrets, WebhookSettings
from shared.identity.webhooks import (
    Deliverer,
    Outbox,
    ProfileChange,
    Queued,
    WebhookTarget,
    outbox_stream,
    profile_updated,
)
from tests.support.redis_server import RedisServer
from tests.support.webhook_receiver import WebhookReceiver

T = TypeVar("T")
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def _event(account: str = "acme", **changes: Any) -> Queued:
    return profile_updated(
        account=account,
        campaign="1001",
        sub="participant-42",
        changes={k: ProfileChange(old=v[0], new=v[1]) for k, v in changes.items()}
        or {"email": ProfileChange(old="a@example.com", new="b@example.com")},
        at=time.time(),
    )


def _run(redis_server: RedisServer, work: Callable[[Outbox], Awaitable[T]]) -> T:
    """``work`` on an outbox of its own (a fresh stream) in the session's Redis."""

    async def run() -> T:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        outbox = Outbox(client, outbox_stream(f"t{secrets.token_hex(4)}:"))
        await outbox.ensure_group()
        try:
            return await work(outbox)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _deliverer(
    outbox: Outbox,
    target: WebhookTarget | Callable[[str], Awaitable[WebhookTarget]],
    **overrides: float,
) -> Deliverer:
    if isinstance(target, tuple):
        fixed = target

        async def lookup(_account: str) -> WebhookTarget:
            return fixed

        target = lookup
    options: dict[str, Any] = {"retry_base": 0.05, "park_after": 3600.0, "claim_idle": 60.0}
    return Deliverer(outbox, target, **{**options, **overrides})


def _target(url: str, **secret: str) -> WebhookTarget:
    auth = "X-Api-Key" if "webhook_auth_value" in secret else None
    return (
        WebhookSettings(url=url, auth_header=auth),
        PlayerSecrets(webhook_secret=SECRET, **secret),
    )


def test_an_event_is_delivered_signed_with_its_id_and_auth_header(
    redis_server: RedisServer,
) -> None:
    """The receiver verifies the signature with standardwebhooks; the body is the event
    (type, timestamp, data with the changes), webhook-id is the event id, the account's
    auth header comes along; the outbox is then empty."""
    event = _event(email=("a@example.com", "b@example.com"), newsletter=(False, True))
    with WebhookReceiver(SECRET) as receiver:

        async def work(outbox: Outbox) -> int:
            await outbox.add(event)
            deliverer = _deliverer(outbox, _target(receiver.url, webhook_auth_value="key-1"))
            try:
                handled = await deliverer.step()
            finally:
                await deliverer.close()
            assert await outbox.waiting() == 0
            return handled

        assert _run(redis_server, work) == 1
    (got,) = receiver.verified()
    assert got.event_id == event.id
    assert got.headers["x-api-key"] == "key-1"
    assert got.headers["content-type"] == "application/json"
    assert got.body["type"] == "profile.updated"
    assert got.body["data"]["id"] == event.id
    assert got.body["data"]["changes"] == {
        "email": {"old": "a@example.com", "new": "b@example.com"},
        "newsletter": {"old": False, "new": True},
    }
    assert {"account", "campaign", "sub", "time"} <= set(got.body["data"])


def test_a_wrong_secret_does_not_verify(redis_server: RedisServer) -> None:
    """The receiver's check is real: an event signed with another secret fails it."""
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    with WebhookReceiver(other) as receiver:

        async def work(outbox: Outbox) -> None:
            await outbox.add(_event())
            deliverer = _deliverer(outbox, _target(receiver.url))
            await deliverer.step()
            await deliverer.close()

        _run(redis_server, work)
    assert len(receiver.received) == 1
    assert receiver.verified() == []


def test_a_failure_is_retried_later_with_the_same_id_then_delivered(
    redis_server: RedisServer,
) -> None:
    """A 500 moves the event out of the stream until its back-off is over; it is then sent
    again, with the same webhook-id, and delivered."""
    event = _event()
    with WebhookReceiver(SECRET, status=500) as receiver:

        async def work(outbox: Outbox) -> None:
            await outbox.add(event)
            deliverer = _deliverer(outbox, _target(receiver.url), retry_base=0.3)
            try:
                assert await deliverer.step() == 1  # refused: retried later
                assert await outbox.waiting() == 1
                assert await deliverer.step() == 0  # not due yet
                receiver.status = 200
                await asyncio.sleep(0.5)
                assert await deliverer.step() == 1
                assert await outbox.waiting() == 0
            finally:
                await deliverer.close()

        _run(redis_server, work)
    assert [r.status for r in receiver.received] == [500, 200]
    assert {r.event_id for r in receiver.received} == {event.id}


@pytest.mark.parametrize("failure", ["status-500", "refused", "no-webhook"])
def test_an_event_failing_past_the_window_is_parked_then_replayed(
    redis_server: RedisServer, failure: str
) -> None:
    """Past park_after the event is parked (its reason kept, not its body in any log);
    replay queues it again and it is delivered."""
    event = _event()
    with WebhookReceiver(SECRET, status=500 if failure == "status-500" else 200) as receiver:
        working = _target(receiver.url)
        failing: WebhookTarget = {
            "status-500": working,
            "refused": _target("http://127.0.0.1:1/hooks"),
            "no-webhook": (None, PlayerSecrets()),
        }[failure]

        async def work(outbox: Outbox) -> tuple[Queued, list[str]]:
            await outbox.add(msgspec.structs.replace(event, first_at=time.time() - 10))
            deliverer = _deliverer(outbox, failing, park_after=5.0)
            try:
                await deliverer.step()
            finally:
                await deliverer.close()
            assert await outbox.waiting() == 0
            (parked,) = await outbox.parked(event.account)
            receiver.status = 200
            replayed = await outbox.replay(event.account, None, time.time())
            assert await outbox.parked(event.account) == []
            again = _deliverer(outbox, working)
            try:
                assert await again.step() == 1
            finally:
                await again.close()
            return parked, replayed

        parked, replayed = _run(redis_server, work)
    assert parked.id == event.id
    assert parked.attempts == 1
    assert parked.reason
    assert replayed == [event.id]
    assert receiver.delivered_ids() == {event.id}


def test_replay_of_named_events_only(redis_server: RedisServer) -> None:
    """replay with ids queues those, and leaves the other parked events where they are."""
    first, second = _event(), _event()

    async def work(outbox: Outbox) -> tuple[list[str], list[str]]:
        for queued in (first, second):
            await outbox.add(queued)
        entries = await outbox.read("c1", count=10, block_ms=0)
        for entry_id, queued in entries:
            await outbox.park(entry_id, queued)
        replayed = await outbox.replay("acme", [second.id, "msg_unknown"], time.time())
        left = [q.id for q in await outbox.parked("acme")]
        return replayed, left

    assert _run(redis_server, work) == ([second.id], [first.id])


def test_a_dead_workers_event_is_taken_over_after_its_idle_time(
    redis_server: RedisServer,
) -> None:
    """A worker that read an event and died never acknowledged it: another worker claims it
    after claim_idle and delivers it (at least once)."""
    event = _event()
    with WebhookReceiver(SECRET) as receiver:

        async def work(outbox: Outbox) -> None:
            await outbox.add(event)
            (taken,) = await outbox.read("dead-worker", count=1, block_ms=0)
            assert taken[1].id == event.id  # ...and the worker dies here
            survivor = _deliverer(outbox, _target(receiver.url), claim_idle=0.3)
            try:
                assert await survivor.step() == 0  # not idle long enough yet
                await asyncio.sleep(0.4)
                assert await survivor.step() == 1
            finally:
                await survivor.close()
            assert await outbox.waiting() == 0

        _run(redis_server, work)
    assert receiver.delivered_ids() == {event.id}


def test_an_unexpected_error_does_not_end_the_deliveries(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug while delivering (here the target lookup raising RuntimeError once) is logged
    by its type and ends that pass only: the loop goes on, the event is taken over after
    claim_idle and delivered."""
    event = _event()
    calls: list[str] = []
    with WebhookReceiver(SECRET) as receiver:
        target = _target(receiver.url)

        async def flaky(account: str) -> WebhookTarget:
            calls.append(account)
            if len(calls) == 1:
                raise RuntimeError("a bug, quoting b@example.com")
            return target

        async def work(outbox: Outbox) -> None:
            await outbox.add(event)
            deliverer = _deliverer(outbox, flaky, claim_idle=0.2)
            stop = asyncio.Event()
            running = asyncio.create_task(deliverer.run(stop, block_ms=50))
            try:
                for _ in range(100):
                    if receiver.delivered_ids():
                        break
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await running
                await deliverer.close()
            assert await outbox.waiting() == 0

        _run(redis_server, work)
    assert receiver.delivered_ids() == {event.id}
    assert len(calls) == 2
    (logged,) = [r for r in caplog.records if "unexpectedly" in r.getMessage()]
    assert logged.__dict__["exc_type"] == "RuntimeError"
    assert "b@example.com" not in caplog.text


def test_settings_unreadable_is_retried_without_counting_an_attempt(
    redis_server: RedisServer,
) -> None:
    """Vault down (our outage, not the receiver's): retried later, attempts unchanged."""
    from shared.errors import VerificationUnavailable  # noqa: PLC0415

    async def down(_account: str) -> WebhookTarget:
        raise VerificationUnavailable("Vault is down")

    async def work(outbox: Outbox) -> int:
        await outbox.add(_event())
        deliverer = _deliverer(outbox, down, retry_base=0.05)
        try:
            await deliverer.step()
            await asyncio.sleep(0.2)
            await outbox.promote_due(time.time())
            (entry,) = await outbox.read("look", count=1, block_ms=0)
        finally:
            await deliverer.close()
        return entry[1].attempts

    assert _run(redis_server, work) == 0


def test_the_event_never_shows_its_body_in_repr() -> None:
    """Profile values stay out of logs and tracebacks."""
    event = _event(email=("secret@example.com", "new-secret@example.com"))
    assert "secret@example.com" not in repr(event)
    shown = repr(PlayerSecrets(webhook_secret=SECRET, webhook_auth_value="value-1"))
    assert SECRET not in shown
    assert "value-1" not in shown
