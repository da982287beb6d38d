"""The player's per-account rate limit (PLAYER_RATE_LIMIT_*), over a real OpenBao and Redis:
what it charges, what it answers, and that 0 turns it off."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
from litestar.testing import TestClient

from player.app import create_app
from shared.accounts import Account
from shared.identity import Campaign, Player, PlayerSettings, PlayerStore, ensure_form_keys
from shared.identity.participations import Participations
from shared.identity.profile_api import ProfileApi
from shared.settings import Settings
from shared.state import RedisBuckets, RedisRateLimiter
from shared.tokens.verification import Verifier
from shared.vault import Vault
from tests.support.asgi_server import AsgiServer
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign

CAMPAIGN = "1001"
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@contextmanager
def _player(
    settings: Settings, vault: Vault, redis: RedisServer, account_id: str, **limits: Any
) -> Iterator[TestClient[Any]]:
    ensure_form_keys(vault)
    PlayerStore(vault).put(
        account_id, PlayerSettings(campaigns={CAMPAIGN: Campaign(title="Quiz")}), expected=0
    )
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    app = create_app(Settings(**{**fields, "redis_url": redis.url, **limits}))
    with TestClient(app) as client:
        yield client


def _body(account_id: str, campaign: str = CAMPAIGN, **extra: Any) -> dict[str, str]:
    token = sign(claims(CAMPAIGN, **extra), "ES256", "ec-p256")
    return {"account": account_id, "campaign": campaign, "token": token}


def test_identify_is_limited_per_account_and_unknown_campaigns_spend_nothing(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """Requests for a campaign the account does not serve are 404 and cost nothing; the
    burst's identifications pass, the next is 429 RATE_LIMITED with Retry-After and a
    detail naming the limit."""
    make_account()
    limits = {"player_rate_per_second": 0.01, "player_rate_burst": 2}
    with _player(settings, vault, redis_server, account_id, **limits) as client:
        for _ in range(3):
            unknown = client.post("/v1/identify", json=_body(account_id, "9999"))
            assert unknown.status_code == 404
        answers = [client.post("/v1/identify", json=_body(account_id)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    limited = answers[2]
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["code"] == "RATE_LIMITED"
    assert "0.01 participants/s (burst 2)" in limited.json()["detail"]
    assert 90 <= int(limited.headers["retry-after"]) <= 100  # one token at 0.01/s


def test_pages_and_forms_share_the_budget_and_answer_a_retry_screen(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """A campaign page with a token and a participation post draw from the same budget as
    /v1/identify; over it, the error screen with RATE_LIMITED, Retry-After and the page
    headers (a screen that offers to try again)."""
    make_account()
    limits = {"player_rate_per_second": 0.01, "player_rate_burst": 2}
    with _player(settings, vault, redis_server, account_id, **limits) as client:
        token = _body(account_id)["token"]
        page = client.get(f"/play/{account_id}/{CAMPAIGN}", params={"qual_token": token})
        assert page.status_code == 200
        found = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert found, page.text
        posted = client.post(
            f"/play/{account_id}/{CAMPAIGN}/participations",
            content=f"form_token={found.group(1)}&firstname=Ada",
            headers=_FORM,
        )
        assert posted.status_code == 200  # the second token of the burst
        again = client.get(f"/play/{account_id}/{CAMPAIGN}", params={"qual_token": token})
        identify = client.post("/v1/identify", json=_body(account_id))
    assert identify.status_code == 429
    assert again.status_code == 429
    assert 'data-code="RATE_LIMITED"' in again.text
    assert again.headers["content-type"].startswith("text/html")
    assert int(again.headers["retry-after"]) >= 1
    assert "frame-ancestors" in again.headers["content-security-policy"]


def test_zero_turns_the_limit_off(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """PLAYER_RATE_LIMIT_PER_SECOND=0: any number of identifications pass, and nothing is
    stored in Redis for them."""
    make_account()
    limits = {"player_rate_per_second": 0.0, "player_rate_burst": 1}
    before = set(redis_server.client().keys("ratelimit:*"))
    with _player(settings, vault, redis_server, account_id, **limits) as client:
        answers = [client.post("/v1/identify", json=_body(account_id)) for _ in range(10)]
    assert {a.status_code for a in answers} == {200}
    assert set(redis_server.client().keys("ratelimit:*")) == before


def test_a_frozen_redis_never_blocks_the_event_loop(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """The player asks its limit without blocking the event loop: while an identification
    waits (2 s here) on a frozen Redis, the same worker answers other requests at once;
    the identification then passes on the per-process fallback."""
    make_account()
    ensure_form_keys(vault)
    PlayerStore(vault).put(
        account_id, PlayerSettings(campaigns={CAMPAIGN: Campaign(title="Quiz")}), expected=0
    )
    redis = RedisServer().start()
    try:
        app_settings = msgspec.structs.replace(settings, redis_url=redis.url)
        limiter = RedisRateLimiter(
            RedisBuckets(redis.url, timeout=2.0), "player:account", 100.0, 100
        )
        own = Player(
            Vault(app_settings),
            Verifier(Vault(app_settings), settings=app_settings),
            PlayerStore(Vault(app_settings)),
            forms=None,
            participations=Participations(redis.url),
            profiles=ProfileApi(),
            limiter=limiter,
        )
        with (
            AsgiServer(create_app(app_settings, overrides={"player": own})) as server,
            httpx.Client(base_url=server.url, timeout=10) as http,
            ThreadPoolExecutor(1) as pool,
        ):
            assert http.post("/v1/identify", json=_body(account_id)).status_code == 200
            assert redis.process is not None
            redis.process.send_signal(signal.SIGSTOP)
            try:
                waiting = pool.submit(http.post, "/v1/identify", json=_body(account_id))
                time.sleep(0.3)
                started = time.monotonic()
                live = http.get("/health/live")
                elapsed = time.monotonic() - started
                assert not waiting.done()
                identified = waiting.result(timeout=10)
            finally:
                redis.process.send_signal(signal.SIGCONT)
    finally:
        redis.stop()
    assert live.status_code == 200
    assert elapsed < 0.5, elapsed
    assert identified.status_code == 200
