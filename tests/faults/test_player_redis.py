"""The player's Redis killed (SIGKILL) under load and started again on its append-only file,
as ``tokenctl up`` configures it, while the customer's webhook receiver is down too.

Expected (docs/player.md): while Redis is away, everything that needs it (a page or an
identify whose token has ``limit.nb``, a form submission) is 503 + Retry-After with
``UNKNOWN``, at once, never a 500 nor a hang; a page without a limit still shows its form;
once Redis is back, every participation answered 2xx is still counted once and in the
campaign's entries stream, every form refused with 503 can be sent again, and every
``profile.updated`` event of an accepted form (waiting in the outbox or its retries when
Redis died) is delivered once the receiver is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from shared.accounts import Account
from shared.identity import ensure_form_keys
from shared.settings import Settings
from shared.vault import Vault
from tests.support.faults.load import Load, check_answers, describe, first_success_after, slowest
from tests.support.faults.player import (
    SECRET,
    AofRedis,
    Participants,
    delivered_events,
    outbox_waiting,
    page_code,
    put_account,
    serve_player,
)
from tests.support.profile_server import ProfileServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.webhook_receiver import WebhookReceiver

#: Participations' Redis timeout (connect and command); one retry on a broken connection.
REDIS_TIMEOUT = 2.0
CALL_BOUND = 2 * REDIS_TIMEOUT + 2.5
RECOVERY_BOUND = 2.0
#: Kinds that need Redis (the count of limit.nb, or the recording).
NEEDS_REDIS = ("page", "identify", "prefill", "submit")


@pytest.fixture
def aof_redis() -> Iterator[AofRedis]:
    server = AofRedis().start()
    try:
        yield server
    finally:
        server.stop()


def _wait(condition: Callable[[], bool], seconds: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.1)


def test_redis_killed_and_restarted(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    aof_redis: AofRedis,
) -> None:
    """Redis SIGKILLed for 3 s under load (receiver down meanwhile): 503 + Retry-After
    (UNKNOWN) at once for what needs Redis, 200 for the rest; after the restart, every
    accepted form is counted once and in the entries stream, every refused form is taken
    when sent again, and every accepted form's event is delivered."""
    ensure_form_keys(vault)
    account = make_account().id
    profiles = ProfileServer().start()
    participants = Participants(account)
    with (
        WebhookReceiver(SECRET) as receiver,
        TcpProxy("127.0.0.1", receiver.port) as hooks,
        serve_player(
            settings, aof_redis.url, webhook_retry_base=0.2, webhook_claim_idle=1.0
        ) as url,
    ):
        put_account(
            vault, account, profile_api=profiles.url("/profile"), webhook_url=f"{hooks.addr}/hooks"
        )
        participants.show_forms(url, 30)
        requests = participants.requests(
            "page", "submit", "identify", "prefill", "submit", "unlimited"
        )
        with Load(url, requests, clients=4, pause=0.02) as load:
            start = time.monotonic()
            time.sleep(1.0)
            hooks.stop()  # events now wait in the outbox's retries
            time.sleep(1.0)
            aof_redis.kill()
            killed = time.monotonic()
            time.sleep(3.0)
            aof_redis.start()
            back = time.monotonic()
            time.sleep(2.0)
            hooks.start()
            time.sleep(1.0)
            calls = load.stop()
        summary = describe(calls, start)
        print(summary)  # the figures: pytest -rP tests/faults/test_player_redis.py

        # Answers: 2xx, or 503 + Retry-After with UNKNOWN; none slow; back at once.
        assert check_answers(calls) == [], summary
        refused = [c for c in calls if c.status == 503]
        assert refused, summary  # the outage was seen
        assert {page_code(c.body) for c in refused} == {"UNKNOWN"}, summary
        assert all(killed - 0.5 < c.received and c.sent < back + 0.5 for c in refused), summary
        assert all(c.status == 200 for c in calls if c.kind == "unlimited"), summary
        slow = slowest(calls)
        assert slow is not None
        assert slow.seconds < CALL_BOUND, (slow, summary)
        for kind in NEEDS_REDIS:
            assert first_success_after(calls, back, kind) < RECOVERY_BOUND, (kind, summary)

        # Every form refused with 503 is still good: sent again, it is taken.
        again = [s for s in participants.sent if not s.accepted]
        with httpx.Client(base_url=url, timeout=10) as http:
            assert {participants.post(http, s).status_code for s in again} <= {200}, again
        accepted = participants.accepted()
        assert len(accepted) == len(participants.sent)

        # Counted once, and in the entries stream, each of them.
        entries, counts = participants.recorded(aof_redis.client())
        assert sorted(entries) == sorted(accepted), "entries lost or duplicated"
        assert set(counts.values()) == {1}, counts

        # Every accepted form's event is delivered (the receiver dedupes by webhook-id).
        def delivered() -> set[str]:
            return {e["data"]["sub"] for e in delivered_events(receiver).values()}

        _wait(lambda: delivered() == set(accepted), 30, lambda: f"{accepted.keys()} {delivered()}")
        _wait(lambda: outbox_waiting(aof_redis.client()) == 0, 10, lambda: "outbox not empty")
        events = delivered_events(receiver)
        for event in events.values():
            assert event["data"]["changes"] == accepted[event["data"]["sub"]].changes
        arrivals = len(receiver.verified())
    profiles.stop()
    print(
        f"forms sent {len(participants.sent)}, refused with 503 then taken {len(again)}, "
        f"entries {len(entries)}, events delivered {len(events)} in {arrivals} arrivals"
    )
