"""Two player instances over one Redis race for a participant's last participations."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from player.app import create_app
from shared.accounts import Account
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.settings import Settings
from shared.vault import Vault
from tests.support.asgi_server import AsgiServer
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign


def test_limit_nb_holds_across_two_instances_racing(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """limit.nb 2: eight forms of one participant posted at once to two instances: exactly
    two are accepted, the rest refused with PARTICIPATION_LIMIT_REACHED."""
    make_account()
    ensure_form_keys(vault)
    PlayerStore(vault).put(
        account_id, PlayerSettings(campaigns={"1001": Campaign(title="Race")}), expected=0
    )
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    player_settings = Settings(**{**fields, "redis_url": redis_server.url})
    token = sign(claims("1001", sub="racer", limit={"nb": 2}), "ES256", "ec-p256")
    with (
        AsgiServer(create_app(player_settings)) as one,
        AsgiServer(create_app(player_settings)) as two,
    ):
        servers = [one.url, two.url]
        forms = []
        for i in range(8):
            page = httpx.get(
                f"{servers[i % 2]}/play/{account_id}/1001", params={"qual_token": token}
            )
            found = re.search(r'name="form_token" value="([^"]+)"', page.text)
            assert found, page.text
            forms.append(found.group(1))

        def submit(i: int) -> tuple[int, str | None]:
            response = httpx.post(
                f"{servers[i % 2]}/play/{account_id}/1001/participations",
                data={"form_token": forms[i], "firstname": "R"},
            )
            code = re.search(r'data-code="([A-Z_]+)"', response.text)
            return response.status_code, code.group(1) if code else None

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(submit, range(8)))
    assert sorted(results, key=str).count((200, None)) == 2, results
    assert results.count((409, "PARTICIPATION_LIMIT_REACHED")) == 6, results
