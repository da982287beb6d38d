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

import signal
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
NEEDS_REDIS = ("page", "identify", "prefill", "submit", "ready")


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


def _kill(redis: AofRedis) -> None:
    redis.kill()
    time.sleep(3.0)
    redis.start()


def _freeze(redis: AofRedis) -> None:
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)  # connections open, nothing answered
    time.sleep(3.0)
    redis.process.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("fault", [_kill, _freeze], ids=["killed", "frozen"])
def test_redis_gone(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    aof_redis: AofRedis,
    fault: Callable[[AofRedis], None],
) -> None:
    """Redis SIGKILLed and restarted on its file, or frozen (SIGSTOP), for 3 s under load,
    the receiver down meanwhile: 503 + Retry-After (UNKNOWN) for what needs Redis (at once
    when killed, after the 2 s timeout when frozen), 200 for the rest; afterwards every
    form answered 503 is taken when sent again (or, frozen, was taken already: a script
    Redis ran after its client gave up; FORM_USED), every taken form is counted once and in
    the entries stream, and its event is delivered once the receiver is back."""
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
        requests.append(("ready", lambda http: http.get("/health/ready")))
        with Load(url, requests, clients=4, pause=0.02) as load:
            start = time.monotonic()
            time.sleep(1.0)
            hooks.stop()  # events now wait in the outbox's retries
            time.sleep(1.0)
            waiting = outbox_waiting(aof_redis.client())  # events the fault must not lose
            gone = time.monotonic()
            fault(aof_redis)
            back = time.monotonic()
            time.sleep(2.0)
            hooks.start()
            time.sleep(1.0)
            calls = load.stop()
        summary = describe(calls, start)
        print(summary)  # the figures: pytest -rP tests/faults/test_player_redis.py
        assert waiting > 0  # the outbox held events when Redis went

        # Answers: 2xx, or 503 + Retry-After with UNKNOWN; none slow; back at once.
        assert check_answers(calls) == [], summary
        refused = [c for c in calls if c.status == 503]
        assert refused, summary  # the outage was seen
        assert {page_code(c.body) for c in refused} == {"UNKNOWN"}, summary
        outside = [c for c in refused if c.received < gone or c.sent > back + 0.5]
        assert outside == [], summary
        assert all(c.status == 200 for c in calls if c.kind == "unlimited"), summary
        slow = slowest(calls)
        assert slow is not None
        assert slow.seconds < CALL_BOUND, (slow, summary)
        for kind in NEEDS_REDIS:
            # A call sent just before the end of a freeze waits its timeout out.
            recovered = first_success_after(calls, back, kind)
            assert recovered < RECOVERY_BOUND + REDIS_TIMEOUT, (kind, summary)

        # Every form refused with 503 is still good: sent again, it is taken, or it was.
        again = [s for s in participants.sent if not s.accepted]
        resent = []
        with httpx.Client(base_url=url, timeout=10) as http:
            for sent in again:
                answer = participants.post(http, sent)
                resent.append((answer.status_code, page_code(answer.text)))
        allowed = {(200, None), (400, "FORM_USED")} if fault is _freeze else {(200, None)}
        assert set(resent) <= allowed, resent
        taken = participants.taken()
        assert len(taken) == len(participants.sent)

        # Counted once, and in the entries stream, each of them.
        entries, counts = participants.recorded(aof_redis.client())
        assert sorted(entries) == sorted(taken), "entries lost or duplicated"
        assert set(counts.values()) == {1}, counts

        # Every taken form's event is delivered (the receiver dedupes by webhook-id).
        def delivered() -> set[str]:
            return {e["data"]["sub"] for e in delivered_events(receiver).values()}

        _wait(lambda: delivered() == set(taken), 30, lambda: f"{taken.keys()} {delivered()}")
        _wait(lambda: outbox_waiting(aof_redis.client()) == 0, 10, lambda: "outbox not empty")
        events = delivered_events(receiver)
        for event in events.values():
            assert event["data"]["changes"] == taken[event["data"]["sub"]].changes
        arrivals = len(receiver.verified())
    profiles.stop()
    used = resent.count((400, "FORM_USED"))
    print(
        f"forms sent {len(participants.sent)}, answered 503 {len(again)} (sent again: "
        f"{len(again) - used} taken, {used} FORM_USED, taken already), entries "
        f"{len(entries)}; {waiting} events waiting in the outbox when Redis went, "
        f"{len(events)} delivered in {arrivals} arrivals"
    )
