"""A Redis Sentinel failover under load: the master SIGKILLed, the Sentinels promote the
replica, while the Authorization API checks client assertions against its replay store and
the player records participations and delivers their webhooks, all with
``REDIS_URL=redis+sentinel://...`` (tests/support/sentinel.py: a master, a replica, three
Sentinels on loopback, down-after 1 s).

Expected (docs/decisions.md, "Redis beyond one node"): until a replica is promoted, what
needs Redis answers 503 + Retry-After at once (the Sentinels name no master that is up),
never a 500 nor a hang; within a moment of the promotion, calls succeed again, on the new
master, with no restart; nothing accepted is lost (every accepted assertion is still
refused as used, every accepted participation is in the entries stream and its event is
delivered); the API's account-change listener subscribes again on the new master.

The figures: ``pytest -rP tests/faults/test_sentinel.py`` (docs/reliability.md).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared import Account, Settings
from shared.identity import ensure_form_keys
from shared.server.account_changes import AccountChangeListener, publish_account_changed
from shared.server.replay_store import RedisReplayStore
from shared.vault import Vault
from tests.faults.test_redis import Client
from tests.support.authz import serve
from tests.support.faults.load import (
    Call,
    Load,
    check_answers,
    describe,
    first_success_after,
    slowest,
)
from tests.support.faults.player import (
    SECRET,
    Participants,
    delivered_events,
    outbox_waiting,
    page_code,
    put_account,
    serve_player,
)
from tests.support.profile_server import ProfileServer
from tests.support.sentinel import SentinelSet
from tests.support.webhook_receiver import WebhookReceiver

#: RedisReplayStore's timeout per connect and per command (not a setting).
REDIS_TIMEOUT: float = inspect.signature(RedisReplayStore).parameters["timeout"].default
#: Participations' (connect and command).
PLAYER_TIMEOUT = 2.0
#: A call meets at worst a connect and a command timing out.
CALL_BOUND = 2 * max(REDIS_TIMEOUT, PLAYER_TIMEOUT) + 2.5
#: From the promotion to the first success.
RECOVERY_BOUND = 2.0
#: From the kill to the promotion: down-after (1 s), the vote, the replica's promotion.
PROMOTION_BOUND = 10.0


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    with SentinelSet(tmp_path / "redis") as found:
        yield found


def _fail_over(sentinels: SentinelSet) -> tuple[float, float, int]:
    """Kill the master, wait for the promotion: (killed at, promoted at, the new port)."""
    old = sentinels.kill_master()
    killed = time.monotonic()
    new = sentinels.wait_promoted(old, timeout=PROMOTION_BOUND)
    return killed, time.monotonic(), new


def _figures(calls: list[Call], killed: float, promoted: float, kind: str) -> str:
    unavailable = [c for c in calls if c.status == 503]
    slow = slowest(calls)
    assert slow is not None
    return (
        f"promotion {promoted - killed:.2f} s after the kill; {len(unavailable)} answers 503 "
        f"of {len(calls)}; first {kind} success {first_success_after(calls, killed, kind):.2f} s "
        f"after the kill, {first_success_after(calls, promoted, kind):.2f} s after the "
        f"promotion; slowest call {slow.seconds:.2f} s ({slow.kind} {slow.status})"
    )


def _hang_and_return(sentinels: SentinelSet) -> tuple[float, float, int]:
    """Freeze the master until the replica is promoted, then let it go on: the Sentinels
    demote it (a replica of the new master, its own writes since dropped)."""
    old = sentinels.freeze_master()
    frozen = time.monotonic()
    new = sentinels.wait_promoted(old, timeout=PROMOTION_BOUND)
    promoted = time.monotonic()
    sentinels.thaw(old)
    sentinels.wait_replica(old)
    return frozen, promoted, new


FAULTS = {"killed": _fail_over, "frozen then back": _hang_and_return}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def _hang_and_return(sentinels: SentinelSet) -> tuple[float, float, int]:
    """Freeze the master until a replica is promoted, then let it go on: it believes it is
    the master until the Sentinels demote it (seconds later), and refuses writes meanwhile
    (no replica: ``min-replicas-to-write``)."""
    old = sentinels.freeze_master()
    frozen = time.monotonic()
    new = sentinels.wait_promoted(old, timeout=PROMOTION_BOUND)
    promoted = time.monotonic()
    sentinels.thaw(old)
    return frozen, promoted, new


FAULTS = {"killed": _fail_over, "frozen then back": _hang_and_return}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_replay_store_through_a_failover(
    settings: Settings,
    make_account: Callable[..., Account],
    sentinels: SentinelSet,
    fault: Callable[[SentinelSet], tuple[float, float, int]],
) -> None:
    """Client assertions while the master is killed (or hangs, then comes back believing it
    is the master) and a replica promoted: 503 + Retry-After (REPLAY_STORE_UNAVAILABLE)
    until the promotion, 200 again within RECOVERY_BOUND of it; a replayed assertion is
    never accepted; jwt-bearer unaffected; every assertion accepted before or during the
    failover is still refused as used on the new master, and every one refused with 503 is
    accepted at most once when sent again."""
    account = make_account()
    with serve(settings, redis_url=sentinels.url, rate_limit_per_second=0.0) as authz:
        client = Client(authz, account)
        used = authz.client_assertion(account.id, "ES256", "ec-p256")
        with httpx.Client(timeout=10) as http:
            assert client.post(http, used).status_code == 200
        requests = [
            ("fresh", client.fresh),
            ("replay", client.replay(used)),
            ("jwt-bearer", client.jwt_bearer),
            ("fresh", client.fresh),
        ]
        with Load("", requests, clients=4, pause=0.02) as load:
            start = time.monotonic()
            time.sleep(1.0)
            killed, promoted, _ = fault(sentinels)
            time.sleep(4.0)
            calls = load.stop()

        summary = describe(calls, start)
        figures = _figures(calls, killed, promoted, "fresh")
        assert check_answers(calls, {"replay": {401}}) == [], summary
        assert {c.status for c in calls if c.kind == "replay"} <= {401, 503}, summary
        assert all(c.status == 200 for c in calls if c.kind == "jwt-bearer"), summary
        unavailable = [c for c in calls if c.kind == "fresh" and c.status == 503]
        assert unavailable, summary  # the failover was seen
        assert {c.code for c in unavailable} == {"REPLAY_STORE_UNAVAILABLE"}, summary
        # Refused only while no master was up (and the calls already under way then: a
        # frozen master's connections time out).
        assert all(c.sent < promoted + REDIS_TIMEOUT + 0.5 for c in unavailable), summary
        slow = slowest(calls)
        assert slow is not None
        assert slow.seconds < CALL_BOUND, (slow, summary)
        assert first_success_after(calls, promoted, "fresh") < RECOVERY_BOUND, figures
        assert all(c.status == 200 for c in calls if c.kind == "fresh" and c.sent > promoted + 1)

        # Nothing accepted was lost with the old master: each is refused as used now.
        accepted = [assertion for assertion, status in client.sent if status == 200]
        with httpx.Client(timeout=10) as http:
            replayed = [client.post(http, a).status_code for a in accepted]
        assert set(replayed) == {401}, f"{replayed.count(200)} accepted assertions forgotten"
        # The 503s were "retry later": sent again, each is accepted at most once.
        again = [assertion for assertion, status in client.sent if status == 503]
        with httpx.Client(timeout=10) as http:
            retried = [client.post(http, a).status_code for a in again]
            twice = [client.post(http, a).status_code for a in again]
        assert set(retried) <= {200, 401}
        assert set(twice) == {401}
        print(summary)
        print(f"replay store: {figures}; accepted {len(accepted)}, all still known")


def test_player_through_a_failover(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    sentinels: SentinelSet,
) -> None:
    """Campaign pages, identifications and form submissions while the master is killed and
    the replica promoted: 503 + Retry-After (UNKNOWN) until the promotion, success within
    RECOVERY_BOUND of it; every accepted form is counted once and in the entries stream on
    the new master, every form refused with 503 is taken when sent again, and every
    accepted form's event is delivered (the outbox and its consumer group were replicated)."""
    ensure_form_keys(vault)
    account = make_account().id
    profiles = ProfileServer().start()
    participants = Participants(account)
    fast = {"webhook_retry_base": 0.2, "webhook_claim_idle": 1.0, "player_rate_per_second": 0.0}
    with (
        WebhookReceiver(SECRET) as receiver,
        serve_player(settings, sentinels.url, **fast) as url,
    ):
        put_account(vault, account, profile_api=profiles.url("/profile"), webhook_url=receiver.url)
        participants.show_forms(url, 30)
        requests = participants.requests(
            "page", "submit", "identify", "prefill", "submit", "unlimited"
        )
        with Load(url, requests, clients=4, pause=0.02) as load:
            start = time.monotonic()
            time.sleep(1.0)
            killed, promoted, new = _fail_over(sentinels)
            time.sleep(3.0)
            calls = load.stop()
        summary = describe(calls, start)
        figures = _figures(calls, killed, promoted, "submit")

        assert check_answers(calls) == [], summary
        refused = [c for c in calls if c.status == 503]
        assert refused, summary  # the failover was seen
        assert {page_code(c.body) for c in refused} == {"UNKNOWN"}, summary
        assert all(c.sent < promoted + 0.5 for c in refused), summary
        assert all(c.status == 200 for c in calls if c.kind == "unlimited"), summary
        slow = slowest(calls)
        assert slow is not None
        assert slow.seconds < CALL_BOUND, (slow, summary)
        for kind in ("page", "identify", "prefill", "submit"):
            assert first_success_after(calls, promoted, kind) < RECOVERY_BOUND, (kind, summary)

        again = [s for s in participants.sent if not s.accepted]
        with httpx.Client(base_url=url, timeout=10) as http:
            assert {participants.post(http, s).status_code for s in again} <= {200}, again
        accepted = participants.accepted()
        assert len(accepted) == len(participants.sent)

        master = sentinels.node(new)
        entries, counts = participants.recorded(master)
        assert sorted(entries) == sorted(accepted), "entries lost or duplicated"
        assert set(counts.values()) == {1}, counts

        def delivered() -> set[str]:
            return {e["data"]["sub"] for e in delivered_events(receiver).values()}

        deadline = time.monotonic() + 30
        while delivered() != set(accepted):
            assert time.monotonic() < deadline, (set(accepted) - delivered(), receiver.dump())
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while outbox_waiting(master):
            assert time.monotonic() < deadline, "outbox not empty"
            time.sleep(0.1)
        master.close()
    profiles.stop()
    print(summary)
    print(
        f"player: {figures}; forms sent {len(participants.sent)}, refused with 503 then "
        f"taken {len(again)}, entries {len(entries)}, events delivered {len(delivered())}"
    )


def test_account_changes_listener_follows_the_failover(sentinels: SentinelSet) -> None:
    """An API process's account-change listener (pub/sub through the Sentinels) hears a
    change published through them; after the master is killed it subscribes again on the
    new master by itself, says what it may have missed, and hears the next change."""
    changed: list[str] = []
    missed = threading.Event()
    heard = threading.Event()

    def on_change(account_id: str) -> None:
        changed.append(account_id)
        heard.set()

    listener = AccountChangeListener(sentinels.url, on_change, missed.set, poll=0.2)
    listener.start()
    try:
        assert listener.subscribed.wait(10)
        assert publish_account_changed(sentinels.url, "acct-before") == 1
        assert heard.wait(5)
        heard.clear()
        killed, promoted, _ = _fail_over(sentinels)
        assert missed.wait(30), "the listener never subscribed again"
        resubscribed = time.monotonic()
        assert listener.subscribed.wait(5)
        assert publish_account_changed(sentinels.url, "acct-after") == 1
        assert heard.wait(5)
    finally:
        listener.stop()
    assert changed == ["acct-before", "acct-after"]
    print(
        f"account changes: promotion {promoted - killed:.2f} s after the kill, listener "
        f"subscribed again {resubscribed - killed:.2f} s after it"
    )


def test_tokenctl_waits_out_a_failover(sentinels: SentinelSet) -> None:
    """tokenctl's Redis clients retry with back-off (after 1, 2 and 4 s): an account change
    published the instant the master is killed reaches the new master, no error shown."""
    old = sentinels.kill_master()
    killed = time.monotonic()
    assert publish_account_changed(sentinels.url, "acct-during") == 0  # no listener here
    published = time.monotonic()
    assert sentinels.wait_promoted(old) != old
    assert published - killed < 1 + 2 + 4 + 1
    print(f"tokenctl: published {published - killed:.2f} s after the kill")
