"""Issue 16's pushback, end to end: participants change prefilled fields in the player's
forms (real HTTP, real OpenBao and Redis), the customer's receiver checks each
`profile.updated` event with the standardwebhooks library. With the receiver down for a
while and the player restarted in between, every event arrives once it is back (a
duplicate only ever with the same webhook-id); a receiver answering 500 forever leaves the
event parked, and `tokenctl webhooks replay` delivers it."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from player.app import create_app
from shared.accounts import Account
from shared.identity import (
    Campaign,
    PlayerSecrets,
    PlayerSecretsStore,
    PlayerSettings,
    PlayerStore,
    WebhookSettings,
    ensure_form_keys,
)
from shared.settings import Settings
from shared.vault import Vault
from tests.support.apis import vault_cli
from tests.support.asgi_server import AsgiServer
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import claims, sign
from tests.support.webhook_receiver import WebhookReceiver

CAMPAIGN = "1001"
SECRET = "whsec_" + base64.b64encode(b"w" * 32).decode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _fields(settings: Settings) -> dict[str, Any]:
    return {f: getattr(settings, f) for f in settings.__struct_fields__}


def _set_webhook(vault: Vault, account_id: str, url: str) -> None:
    PlayerStore(vault).put(
        account_id,
        PlayerSettings(
            campaigns={CAMPAIGN: Campaign(title="Summer quiz")},
            webhook=WebhookSettings(url=url, auth_header="X-Api-Key"),
        ),
        expected=0,
    )
    PlayerSecretsStore(vault).put(
        account_id, PlayerSecrets(webhook_secret=SECRET, webhook_auth_value="k-1"), expected=0
    )


@contextmanager
def _player(settings: Settings, redis_server: RedisServer, **overrides: Any) -> Iterator[str]:
    """A player process's app over HTTP; leaving the block stops it (a restart is two)."""
    app = create_app(Settings(**{**_fields(settings), "redis_url": redis_server.url, **overrides}))
    with AsgiServer(app) as server:
        yield server.url


def _participate(url: str, account_id: str, sub: str, email: str) -> None:
    """Open the campaign with a token prefilling a@example.com and send ``email``."""
    token = sign(claims(CAMPAIGN, sub=sub, profile={"email": "a@example.com"}), "ES256", "ec-p256")
    with httpx.Client(base_url=url, timeout=10) as http:
        page = http.get(f"/play/{account_id}/{CAMPAIGN}", params={"qual_token": token})
        found = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert found, page.text
        sent = http.post(
            f"/play/{account_id}/{CAMPAIGN}/participations",
            content=f"form_token={found.group(1)}&email={email}&firstname=",
            headers=FORM,
        )
    assert sent.status_code == 200, sent.text


def _wait(condition: Callable[[], bool], seconds: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.1)


@pytest.fixture
def account(make_account: Callable[..., Account], vault: Vault) -> str:
    ensure_form_keys(vault)
    return make_account().id


def test_events_survive_a_receiver_outage_and_a_player_restart(
    settings: Settings, vault: Vault, redis_server: RedisServer, account: str
) -> None:
    """Five changed forms while the receiver is down, the player restarted meanwhile:
    once the receiver is back, all five arrive, verified, each with its changes; a form
    whose prefilled values were kept sends nothing."""
    fast = {"webhook_retry_base": 0.2, "webhook_claim_idle": 1.0}
    with WebhookReceiver(SECRET) as receiver, TcpProxy("127.0.0.1", receiver.port) as proxy:
        _set_webhook(vault, account, f"{proxy.addr}/hooks")
        proxy.stop()  # the receiver is down
        with _player(settings, redis_server, **fast) as url:
            for n in range(5):
                _participate(url, account, f"outage-{n}", f"new-{n}@example.com")
            _participate(url, account, "unchanged", "a@example.com")
            time.sleep(1.0)  # attempts fail meanwhile
        assert receiver.received == []
        with _player(settings, redis_server, **fast):  # the player, restarted
            proxy.start()  # the receiver is back
            _wait(lambda: len(receiver.delivered_ids()) >= 5, 30, receiver.dump)
            time.sleep(0.5)
    verified = receiver.verified()
    assert len(receiver.delivered_ids()) == 5
    by_id: dict[str, Any] = {}
    for event in verified:
        # At least once: a duplicate is only ever the same event, same id.
        assert by_id.setdefault(str(event.event_id), event.body) == event.body
        assert event.headers["x-api-key"] == "k-1"
    subjects = sorted(body["data"]["sub"] for body in by_id.values())
    assert subjects == [f"outage-{n}" for n in range(5)]
    for body in by_id.values():
        n = body["data"]["sub"].split("-")[1]
        assert body["data"]["changes"] == {
            "email": {"old": "a@example.com", "new": f"new-{n}@example.com"}
        }


def test_a_receiver_refusing_forever_parks_the_event_and_replay_delivers_it(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    account: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """500 on every attempt: past the retry window the event is parked, `webhooks list`
    shows it (never its body); fixed, `webhooks replay` sends it and it is delivered."""
    cli = vault_cli(monkeypatch, capsys, settings)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    short = {"webhook_retry_base": 0.2, "webhook_park_after": 1.5}
    with WebhookReceiver(SECRET, status=500) as receiver:
        _set_webhook(vault, account, receiver.url)
        with _player(settings, redis_server, **short) as url:
            _participate(url, account, "refused", "changed@example.com")

            def parked() -> list[dict[str, Any]]:
                code, out, err = cli("webhooks", "list", account, "--json")
                assert code == 0, err
                rows: list[dict[str, Any]] = json.loads(out)["parked"]
                return rows

            _wait(lambda: bool(parked()), 30, receiver.dump)
            (row,) = parked()
            assert row["attempts"] >= 2
            assert row["reason"] == "the receiver answered HTTP 500"
            code, out, _ = cli("webhooks", "list", account)
            assert row["id"] in out
            assert "changed@example.com" not in out
            refused = {r.event_id for r in receiver.received}
            assert refused == {row["id"]}
            receiver.status = 200
            code, out, err = cli("webhooks", "replay", account)
            assert code == 0, err
            assert "queued 1 event(s)" in out
            _wait(lambda: row["id"] in receiver.delivered_ids(), 30, receiver.dump)
        assert parked() == []
    code, _, err = cli("webhooks", "replay", account, "--id", "msg_nothing")
    assert code != 0
    assert "not parked" in err
