"""Tokens carrying an access token instead of data: the player asks the account's profile
API (a real local HTTP server misbehaving by path) and answers within its deadline."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from litestar.testing import TestClient

from player.app import create_app
from shared.accounts import Account
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.settings import Settings
from shared.vault import Vault
from tests.support.openbao import free_port
from tests.support.profile_server import ProfileServer
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign

CAMPAIGN = "1001"


@pytest.fixture
def profiles() -> Iterator[ProfileServer]:
    """The customer's profile API; /slow answers after 8 s (past the 5 s deadline)."""
    server = ProfileServer(slow_seconds=8.0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def open_page(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> Iterator[Callable[[str], tuple[int, str]]]:
    """Open the campaign with an access-token token, the account's profile_api set to URL."""
    make_account()
    ensure_form_keys(vault)
    store = PlayerStore(vault)
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    app = create_app(Settings(**{**fields, "redis_url": redis_server.url, "cache_ttl": 0.0}))
    token = sign(claims(CAMPAIGN, access_token="at-123"), "ES256", "ec-p256")
    with TestClient(app, timeout=30) as client:

        def run(url: str) -> tuple[int, str]:
            _, version = store.get_versioned(account_id)
            store.put(
                account_id,
                PlayerSettings(campaigns={CAMPAIGN: Campaign(title="T")}, profile_api=url),
                expected=version,
            )
            response = client.get(f"/play/{account_id}/{CAMPAIGN}", params={"qual_token": token})
            return response.status_code, response.text

        yield run


def _code(html: str) -> str | None:
    found = re.search(r'data-code="([A-Z_]+)"', html)
    return found.group(1) if found else None


def test_the_profile_api_answer_prefills_the_form(
    open_page: Callable[[str], tuple[int, str]], profiles: ProfileServer
) -> None:
    """The profile fetched with the token's access token prefills the form."""
    status, html = open_page(profiles.url("/profile"))
    assert status == 200, html
    assert 'name="email" value="ada@example.com"' in html
    assert profiles.authorizations[-1] == "Bearer at-123"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/401", 403, "PROFILE_UNAUTHORIZED"),
        ("/403", 403, "PROFILE_UNAUTHORIZED"),
        ("/500", 503, "UNKNOWN"),
        ("/big", 503, "UNKNOWN"),
        ("/big-unannounced", 503, "UNKNOWN"),
        ("/text", 503, "UNKNOWN"),
        ("/array", 503, "UNKNOWN"),
        ("/redirect", 503, "UNKNOWN"),
        ("/slow", 503, "UNKNOWN"),
    ],
    ids=lambda value: str(value).strip("/"),
)
def test_each_profile_api_failure_has_its_documented_answer_in_time(
    open_page: Callable[[str], tuple[int, str]],
    profiles: ProfileServer,
    path: str,
    status: int,
    code: str,
) -> None:
    """401/403 are PROFILE_UNAUTHORIZED; a 500, 10 MB, non-JSON, an array, a redirect or a
    slow answer are UNKNOWN (retryable), each within the 5 s deadline and never a 500."""
    started = time.monotonic()
    answer = open_page(profiles.url(path))
    assert time.monotonic() - started < 7
    assert answer[0] == status, answer[1][:300]
    assert _code(answer[1]) == code


def test_a_profile_api_that_is_down_is_unknown(
    open_page: Callable[[str], tuple[int, str]],
) -> None:
    """Nothing listening at the profile API: UNKNOWN, retryable."""
    status, html = open_page(f"http://127.0.0.1:{free_port()}/profile")
    assert status == 503
    assert _code(html) == "UNKNOWN"
    assert 'data-retryable="true"' in html
