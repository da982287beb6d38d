"""The customer's webhook receiver down "for an hour", time compressed: retries start at
0.05 s (``WEBHOOK_RETRY_BASE_SECONDS``, 5 s in production) and events are parked once 4 s
old (``WEBHOOK_PARK_AFTER_SECONDS``, 25 h in production), so an outage of a few seconds
outlasts the whole retry window, as an outage of more than a day would.

Expected (docs/player.md, webhook pushback): every form is accepted while the receiver is
down (its events wait in the outbox); each event is retried with exponential back-off (a
handful of attempts, not one per retry base), then parked; ``tokenctl webhooks list``
shows them and ``tokenctl webhooks replay`` queues them again; events not yet parked when
the receiver returns are delivered by their own retries. In the end every accepted form's
event has arrived, exactly as accepted (at least once: the receiver dedupes by
``webhook-id``), and the outbox is empty.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.accounts import Account
from shared.identity import ensure_form_keys
from shared.settings import Settings
from shared.vault import Vault
from tests.support.faults.load import Load, check_answers, describe
from tests.support.faults.player import (
    SECRET,
    Participants,
    delivered_events,
    outbox_waiting,
    put_account,
    serve_player,
)
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.webhook_receiver import WebhookReceiver

RETRY_BASE = 0.05
PARK_AFTER = 4.0
#: Attempts an event gets before it is parked: base * (2^n - 1) >= PARK_AFTER, 20 % jitter.
MOST_ATTEMPTS = math.ceil(math.log2(PARK_AFTER / (RETRY_BASE * 0.8) + 1)) + 1
TOKENCTL = Path(sys.executable).with_name("tokenctl")


def _tokenctl(settings: Settings, redis_url: str, *args: str) -> dict[str, Any]:
    """Run the real ``tokenctl`` (a process of its own, as an operator would) with ``--json``."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "VAULT_ADDR": settings.vault_addr,
        "VAULT_TOKEN": settings.vault_token or "",
    }
    done = subprocess.run(
        [str(TOKENCTL), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _wait(condition: Callable[[], bool], seconds: float, what: Callable[[], str]) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, what()
        time.sleep(0.05)
    return time.monotonic() - start


def test_receiver_down_past_the_retry_window(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    redis_server: RedisServer,
) -> None:
    """Forms taken for 5 s under load with the receiver down: every one accepted; their
    events retried with back-off then parked; the receiver back, the ones not yet parked
    arrive on their own, ``tokenctl webhooks replay`` brings back the parked ones, and
    every accepted form's event arrives as accepted."""
    ensure_form_keys(vault)
    account = make_account().id
    participants = Participants(account)
    redis = redis_server.client()
    timings = {"webhook_retry_base": RETRY_BASE, "webhook_park_after": PARK_AFTER}
    with (
        WebhookReceiver(SECRET) as receiver,
        TcpProxy("127.0.0.1", receiver.port) as hooks,
        serve_player(settings, redis_server.url, webhook_claim_idle=1.0, **timings) as url,
    ):
        put_account(vault, account, profile_api=None, webhook_url=f"{hooks.addr}/hooks")
        hooks.stop()  # the receiver is down from the start
        participants.show_forms(url, 20)
        with Load(url, participants.requests("page", "submit"), clients=4, pause=0.02) as load:
            start = time.monotonic()
            time.sleep(5.0)
            calls = load.stop()
        summary = describe(calls, start)
        print(summary)  # the figures: pytest -rP tests/faults/test_player_webhooks.py
        assert check_answers(calls) == [], summary
        assert all(c.status == 200 for c in calls), summary  # the receiver is not our outage
        parked_first = participants.accepted()

        # Every event of the run parks once PARK_AFTER old, after a few attempts.
        waited = _wait(
            lambda: outbox_waiting(redis) == 0, PARK_AFTER + 10, lambda: "events still waiting"
        )
        listed = _tokenctl(settings, redis_server.url, "webhooks", "list", account)["parked"]
        assert len(listed) == len(parked_first), (len(listed), len(parked_first))
        attempts = [row["attempts"] for row in listed]
        assert min(attempts) >= 3, attempts
        assert max(attempts) <= MOST_ATTEMPTS, attempts  # back-off, not hammering
        assert all(row["reason"].startswith("the receiver cannot be reached") for row in listed)
        assert receiver.received == []

        # More forms just before the receiver returns: not parked yet, retried on their own.
        participants.show_forms(url, 10)
        with Load(url, participants.requests("submit"), clients=2) as load:
            time.sleep(0.3)
            late_calls = load.stop()
        assert {c.status for c in late_calls} == {200}, describe(late_calls)
        late = {sub: s for sub, s in participants.accepted().items() if sub not in parked_first}
        hooks.start()
        back = time.monotonic()

        def delivered() -> set[str]:
            return {e["data"]["sub"] for e in delivered_events(receiver).values()}

        _wait(lambda: set(late) <= delivered(), PARK_AFTER, lambda: f"{late.keys()} {delivered()}")
        late_in = time.monotonic() - back
        assert not delivered() & set(parked_first)  # parked ones wait for the replay

        replayed = _tokenctl(settings, redis_server.url, "webhooks", "replay", account)
        assert len(replayed["replayed"]) == len(parked_first)
        replay_in = _wait(
            lambda: delivered() == set(participants.accepted()),
            30,
            lambda: f"missing {set(participants.accepted()) - delivered()}",
        )
        assert outbox_waiting(redis) == 0
        assert _tokenctl(settings, redis_server.url, "webhooks", "list", account)["parked"] == []
        events = delivered_events(receiver)
        accepted = participants.accepted()
        assert len(events) == len(accepted)
        for event in events.values():
            assert event["type"] == "profile.updated"
            assert event["data"]["changes"] == accepted[event["data"]["sub"]].changes
            assert event["data"]["account"] == account
        time.sleep(0.5)
        arrivals = len(receiver.verified())
    print(
        f"forms accepted with the receiver down {len(parked_first)}, all parked "
        f"{waited:.1f} s after the load (attempts {min(attempts)}-{max(attempts)}, "
        f"at most {MOST_ATTEMPTS}); {len(late)} late ones delivered by their retries "
        f"{late_in:.2f} s after the receiver came back; replayed {len(replayed['replayed'])}, "
        f"all delivered {replay_in:.2f} s later; {len(events)} events in {arrivals} arrivals"
    )
