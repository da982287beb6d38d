"""Telling every API process at once that an account changed (Redis pub/sub).

``tokenctl accounts update|disable`` writes the account to Vault, then publishes
``account changed: <id>`` on :data:`CHANNEL` of ``REDIS_URL``. Each API process listens in
a background thread (:class:`AccountChangeListener`) and drops that account's cached
entries, so a disabled account is refused by the very next request instead of up to the
cache TTL later. The TTL stays the fallback: without ``REDIS_URL``, or for a message lost
while a listener was disconnected. After a reconnect, whatever may have been missed is
marked for reloading (still served stale if Vault is down, as the caches always do).

A listener never crashes its service: every failure is logged and retried with back-off.
Messages carry an account id only, and are checked as one before use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol

from shared.accounts.document import check_account_id
from shared.errors import AccountInvalid
from shared.settings import Settings
from shared.state import redis_client, redis_target
from shared.tokens.verification import Verifier

__all__ = [
    "CHANNEL",
    "AccountChangeListener",
    "listen_for_account_changes",
    "message_for",
    "publish_account_changed",
]

#: The pub/sub channel (one per Redis database: ``REDIS_URL`` names the database).
CHANNEL: Final = "secure-tokens:accounts"
_PREFIX: Final = "account changed: "
_TIMEOUT: Final = 2.0
#: Back-off between reconnection attempts: from the first to the last, doubling.
_FIRST_WAIT: Final = 0.5
_LAST_WAIT: Final = 30.0

_log = logging.getLogger("shared.account_changes")


def message_for(account_id: str) -> str:
    """The message that says ``account_id`` changed."""
    return f"{_PREFIX}{account_id}"


def _account_of(data: object) -> str | None:
    """The account id a message names, or None when it is not one of ours."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if not isinstance(data, str) or not data.startswith(_PREFIX):
        return None
    account_id = data.removeprefix(_PREFIX)
    try:
        check_account_id(account_id)
    except AccountInvalid:
        return None
    return account_id


def publish_account_changed(redis_url: str, account_id: str) -> int:
    """Publish that ``account_id`` changed; returns how many listeners received it.

    Raises:
        redis.RedisError: Redis cannot be reached (the caller says what that means).
        ConfigurationError: ``redis_url`` is not a Redis URL.
    """
    # Retries after 1, 2 and 4 s, as redis-py's default would: tokenctl waits out a
    # Sentinel failover (published 3 s after a kill in tests/faults/test_sentinel.py).
    client = redis_client(redis_url, timeout=_TIMEOUT, retries=3, backoff=1.0)
    try:
        return int(client.publish(CHANNEL, message_for(account_id)))
    finally:
        client.close()


class AccountChangeListener:
    """Listens on :data:`CHANNEL` in a daemon thread; calls ``on_change(account_id)`` per
    message and ``on_missed()`` after a reconnect (messages may have been lost meanwhile).

    Both callbacks must be quick and thread-safe (they drop cache entries)."""

    def __init__(
        self,
        redis_url: str,
        on_change: Callable[[str], None],
        on_missed: Callable[[], None],
        *,
        poll: float = 1.0,
    ) -> None:
        # A REDIS_URL that is not one fails here, at the app's start, rather than in the
        # listener's thread at every reconnection.
        redis_target(redis_url)
        self._url = redis_url
        self._on_change = on_change
        self._on_missed = on_missed
        self._poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._was_subscribed = False
        #: Set once subscribed (tests wait for it; a message sent before is not seen).
        self.subscribed = threading.Event()

    def start(self) -> None:
        """Start listening (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="account-changes", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop listening; returns within about ``poll`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._poll + _TIMEOUT + 1)

    def _run(self) -> None:
        wait = _FIRST_WAIT
        connected_before = False
        while not self._stop.is_set():
            try:
                self._listen(missed=connected_before)
            except Exception as exc:  # noqa: BLE001 - never crash the service; retry
                if self._was_subscribed:
                    wait = _FIRST_WAIT  # it worked for a while: start the back-off again
                _log.warning(
                    "account changes: Redis listener failed (%s); reconnecting in %.1f s, "
                    "the cache TTL covers what is missed",
                    type(exc).__name__,
                    wait,
                    extra={"dependency": "redis"},
                )
                if self._stop.wait(wait):
                    return
                wait = min(_LAST_WAIT, wait * 2)
                connected_before = True
                continue
            return  # stopped

    def _listen(self, *, missed: bool) -> None:
        client = redis_client(
            self._url,
            timeout=self._poll + _TIMEOUT,
            connect_timeout=_TIMEOUT,
            health_check_interval=30,
        )
        # redis-py leaves PubSub untyped.
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._was_subscribed = False
        try:
            pubsub.subscribe(CHANNEL)
            self._was_subscribed = True
            if missed:
                _log.info("account changes: Redis listener reconnected")
                self._on_missed()
            self.subscribed.set()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=self._poll)
                if message is None or message.get("type") != "message":
                    continue
                account_id = _account_of(message.get("data"))
                if account_id is not None:
                    self._on_change(account_id)
        finally:
            self.subscribed.clear()
            pubsub.close()
            client.close()


class _Lifespan(Protocol):
    """What an app offers to run code at start and stop (a Litestar app does)."""

    on_startup: list[Any]
    on_shutdown: list[Any]


def listen_for_account_changes(app: _Lifespan, settings: Settings, verifier: Verifier) -> None:
    """With ``REDIS_URL``, run a listener in each process of ``app`` (from its start-up:
    after a worker fork) that drops ``verifier``'s cached account when it changes; without
    it, nothing (the cache TTL alone)."""
    if not settings.redis_url:
        return
    listener = AccountChangeListener(settings.redis_url, verifier.forget, verifier.expire_all)
    app.on_startup.append(listener.start)
    app.on_shutdown.append(listener.stop)
