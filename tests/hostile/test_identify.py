"""Every corpus case through the player's ``POST /v1/identify``: the verifier's exact code
as problem+json, never a 5xx (the player over the session's OpenBao and a real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from player.app import create_app
from shared import Settings, Vault
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from tests.hostile.corpus import CASES, Case
from tests.hostile.forge import CAMPAIGN, ROLES, Context, jws
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def player(
    settings: Settings, vault: Vault, redis_server: RedisServer, hostile: Context
) -> Iterator[TestClient[Any]]:
    """The player serving CAMPAIGN for every corpus account."""
    ensure_form_keys(vault)
    store = PlayerStore(vault)
    for role in ROLES:
        account = hostile.ids[role]
        _, version = store.get_versioned(account)
        store.put(
            account,
            PlayerSettings(campaigns={str(CAMPAIGN): Campaign(title="Corpus")}),
            expected=version,
        )
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    app = create_app(Settings(**{**fields, "redis_url": redis_server.url}))
    with TestClient(app) as client:
        yield client


def _identify(player: TestClient[Any], account: str, token: str) -> Any:
    return player.post(
        "/v1/identify", json={"account": account, "campaign": str(CAMPAIGN), "token": token}
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_account_identifies_its_valid_token(
    player: TestClient[Any], hostile: Context, role: str
) -> None:
    """An honest token of each corpus account is identified (200, its subject)."""
    response = _identify(player, hostile.ids[role], jws(hostile, role))
    assert response.status_code == 200, response.text
    assert response.json()["can_play"] is True


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_identify_refuses_with_the_verifiers_exact_code(
    player: TestClient[Any], hostile: Context, corpus_tokens: dict[str, str], case: Case
) -> None:
    """Each hostile token is refused with the code the verifier gives it, never a 5xx
    but UNKNOWN's 503; a body over the endpoint's limit is a 413, as at the Crypto API."""
    response = _identify(player, hostile.ids[case.account], corpus_tokens[case.id])
    assert response.headers["content-type"].startswith("application/problem+json")
    code = response.json()["code"]
    if case.expect.crypto[0] == 413:
        assert (response.status_code, code) == (413, "PAYLOAD_TOO_LARGE")
        return
    assert code == case.expect.verifier
    if code == "UNKNOWN":
        assert response.status_code == 503
    else:
        assert 400 <= response.status_code < 500
