"""The messages channel's pages over a real OpenBao and Redis: the waiting page, the POST
of the parent page's JWT, and when a campaign stays silent."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from player.app import create_app
from shared.accounts import Account
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.settings import Settings
from shared.vault import Vault
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign

CAMPAIGN = "1001"
SHOP = "https://shop.example"
BLOG = "https://blog.example"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def client(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> Iterator[TestClient[Any]]:
    """The player; the account identifies by messages with two parent origins, and a
    second account (``<id>-st``) by secure token with the same origins."""
    make_account()
    make_account(id=f"{account_id}-st")
    ensure_form_keys(vault)
    store = PlayerStore(vault)
    secure_token = PlayerSettings(
        parent_origins=(SHOP, BLOG), campaigns={CAMPAIGN: Campaign(title="Summer quiz")}
    )
    messages = msgspec.structs.replace(secure_token, identification="messages", message_wait=45)
    store.put(account_id, messages, expected=0)
    store.put(f"{account_id}-st", secure_token, expected=0)
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    app = create_app(Settings(**{**fields, "redis_url": redis_server.url}))
    with TestClient(app) as test_client:
        yield test_client


def _token(**extra: Any) -> str:
    return sign(claims(CAMPAIGN, **extra), "ES256", "ec-p256")


def _attr(html: str, name: str) -> str | None:
    found = re.search(rf'<main [^>]*{name}="([^"]*)"', html)
    return found.group(1) if found else None


def test_without_a_token_the_waiting_page_names_its_exact_parent(
    client: TestClient[Any], account_id: str
) -> None:
    """The waiting page carries the channel (divId, the parent origin the loader named,
    the wait) and loads the player's own script; framable by the parent origins only."""
    answer = client.get(
        f"/play/{account_id}/{CAMPAIGN}", params={"qual_div": "campaign", "qual_parent": BLOG}
    )
    assert answer.status_code == 200
    html = answer.text
    assert _attr(html, "data-step") == "waiting"
    assert (_attr(html, "data-qual-div"), _attr(html, "data-qual-parent")) == ("campaign", BLOG)
    assert _attr(html, "data-qual-wait") == "45"
    assert '<script src="/kit/campaign.js" defer></script>' in html
    assert f'action="/play/{account_id}/{CAMPAIGN}"' in html
    csp = answer.headers["content-security-policy"]
    assert f"frame-ancestors {SHOP} {BLOG}" in csp
    assert "script-src 'self'" in csp


@pytest.mark.parametrize(
    "params",
    [
        {"qual_div": "campaign", "qual_parent": "https://evil.example"},
        {"qual_div": "campaign"},  # two parent origins: which one is not guessed
        {"qual_div": "bad div", "qual_parent": SHOP},
        {"qual_parent": SHOP},
    ],
    ids=["unregistered-parent", "no-parent", "bad-div", "no-div"],
)
def test_a_campaign_without_a_channel_does_not_speak(
    client: TestClient[Any], account_id: str, params: dict[str, str]
) -> None:
    """The loader's parent is not a registered origin (or the channel is malformed): no
    waiting page, no script; the page says no token came (TOKEN_EMPTY)."""
    answer = client.get(f"/play/{account_id}/{CAMPAIGN}", params=params)
    assert answer.status_code == 422
    assert _attr(answer.text, "data-code") == "TOKEN_EMPTY"
    assert "campaign.js" not in answer.text
    assert "data-qual-parent" not in answer.text


def test_the_parent_jwt_posted_from_the_waiting_page_shows_the_form(
    client: TestClient[Any], account_id: str
) -> None:
    """The script's POST (same origin) is verified on the server and renders the form."""
    token = _token(profile={"firstname": "Ada"})
    answer = client.post(
        f"/play/{account_id}/{CAMPAIGN}",
        content=f"qual_token={token}&qual_div=campaign&qual_parent={SHOP}",
        headers={**FORM, "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 200, answer.text
    assert _attr(answer.text, "data-step") == "form"
    assert 'name="firstname" value="Ada"' in answer.text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("qual_token=&qual_div=campaign&qual_parent=" + SHOP, "TOKEN_EMPTY"),
        ("qual_token=a.b&qual_div=campaign&qual_parent=" + SHOP, "TOKEN_INVALID_FORMAT"),
    ],
    ids=["empty", "format"],
)
def test_a_refused_jwt_renders_the_blocked_screen_for_the_parent(
    client: TestClient[Any], account_id: str, body: str, code: str
) -> None:
    """A refusal renders the blocked screen with its code, carrying the channel so the
    script tells that parent; no "try again" link (a reload would lose the parent's JWT)."""
    answer = client.post(f"/play/{account_id}/{CAMPAIGN}", content=body, headers=FORM)
    assert answer.status_code == 422
    assert _attr(answer.text, "data-code") == code
    assert _attr(answer.text, "data-qual-parent") == SHOP
    assert "campaign.js" in answer.text
    assert 'class="spinner"' in answer.text
    assert "data-retry>" not in answer.text


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (f"qual_token={'x'}", {"Origin": "https://evil.example"}, 403, "FORM_CROSS_SITE"),
        ("qual_token=x", {"Sec-Fetch-Site": "cross-site"}, 403, "FORM_CROSS_SITE"),
        ("qual_token=x&qual_token=y", {}, 400, "REQUEST_INVALID"),
        ("qual_token=x&form_token=y", {}, 400, "REQUEST_INVALID"),
        (b"qual_token=\xff\xfe", {}, 400, "REQUEST_INVALID"),
        ("qual_token=" + "x" * 80_000, {}, 413, "PAYLOAD_TOO_LARGE"),
    ],
    ids=["foreign-origin", "cross-site", "repeated", "unknown-field", "not-utf8", "too-large"],
)
def test_a_post_not_from_the_waiting_page_is_refused_with_its_reason(
    client: TestClient[Any],
    account_id: str,
    body: str | bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    """From another site, malformed or too large: the error screen names why, never a 5xx;
    the token is never verified."""
    answer = client.post(
        f"/play/{account_id}/{CAMPAIGN}", content=body, headers={**FORM, **headers}
    )
    assert answer.status_code == status, answer.text
    assert _attr(answer.text, "data-code") == code


def test_a_secure_token_account_ignores_the_channel(
    client: TestClient[Any], account_id: str
) -> None:
    """The loader always names its divId and origin: an account identifying by secure
    token neither waits nor speaks (channel 1's pages are unchanged)."""
    answer = client.get(
        f"/play/{account_id}-st/{CAMPAIGN}", params={"qual_div": "campaign", "qual_parent": SHOP}
    )
    assert answer.status_code == 422
    assert _attr(answer.text, "data-code") == "TOKEN_EMPTY"
    assert "campaign.js" not in answer.text


def test_the_campaign_script_is_served_as_javascript(client: TestClient[Any]) -> None:
    """/kit/campaign.js is JavaScript, never sniffed."""
    answer = client.get("/kit/campaign.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "postMessage" in answer.text
