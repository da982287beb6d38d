"""The player app over a real OpenBao and a real Redis: pages, forms and /v1/identify."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from player.app import create_app
from shared.accounts import Account, KeyStore
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.settings import Settings
from shared.tokens.sealing import Sealer
from shared.vault import Vault
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign

CAMPAIGN = "1001"
PARENT = "http://127.0.0.1:9999"


@pytest.fixture
def client(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> Iterator[TestClient[Any]]:
    """The player for an ES256 account serving campaign 1001, framable by PARENT."""
    make_account()
    ensure_form_keys(vault)
    PlayerStore(vault).put(
        account_id,
        PlayerSettings(
            parent_origins=(PARENT,),
            campaigns={CAMPAIGN: Campaign(title="Summer quiz"), "2002": Campaign(title="Other")},
            prefill={"custom.card": "loyalty_card"},
        ),
        expected=0,
    )
    app = create_app(Settings(**{**_fields(settings), "redis_url": redis_server.url}))
    with TestClient(app) as test_client:
        yield test_client


def _fields(settings: Settings) -> dict[str, Any]:
    return {f: getattr(settings, f) for f in settings.__struct_fields__}


def _code(html: str) -> str | None:
    found = re.search(r'data-code="([A-Z_]+)"', html)
    return found.group(1) if found else None


def _form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _token(**extra: Any) -> str:
    return sign(claims(CAMPAIGN, **extra), "ES256", "ec-p256")


def _page(client: TestClient[Any], account_id: str, token: str | None, campaign: str = CAMPAIGN):
    params = {} if token is None else {"qual_token": token}
    return client.get(f"/play/{account_id}/{campaign}", params=params)


def test_a_jws_shows_the_form_prefilled_with_the_mapped_values(
    client: TestClient[Any], account_id: str
) -> None:
    """A valid JWS renders the form with profile fields and the account's mapping applied."""
    token = _token(
        profile={"firstname": "Ada", "email": "ada@example.com"},
        optin={"newsletter": True},
        custom={"card": "C-77"},
    )
    response = _page(client, account_id, token)
    assert response.status_code == 200
    html = response.text
    assert 'data-step="form"' in html
    assert 'name="firstname" value="Ada"' in html
    assert 'name="email" value="ada@example.com"' in html
    assert 'name="loyalty_card" value="C-77"' in html
    assert 'name="newsletter" value="on" checked' in html
    csp = response.headers["content-security-policy"]
    assert f"frame-ancestors {PARENT}" in csp
    assert response.headers["referrer-policy"] == "same-origin"


def test_a_jwe_sealed_for_the_account_shows_the_form(
    client: TestClient[Any], account_id: str, vault: Vault, settings: Settings
) -> None:
    """A JWE made with the account's Transit key is opened and its profile prefilled."""
    jws = _token(profile={"lastname": "Lovelace"})
    jwe = Sealer(KeyStore(vault), settings).seal(account_id, jws)
    html = _page(client, account_id, jwe).text
    assert 'name="lastname" value="Lovelace"' in html


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "TOKEN_EMPTY"),
        ("", "TOKEN_EMPTY"),
        ("not-a-token", "TOKEN_INVALID_FORMAT"),
        (sign(claims(CAMPAIGN, exp=int(time.time()) - 3600), "ES256", "ec-p256"), "TOKEN_EXPIRED"),
        (sign(claims("9999"), "ES256", "ec-p256"), "TOKEN_INVALID_CLAIMS"),
        (sign(claims(CAMPAIGN), "ES256", "ec-p256-other"), "TOKEN_INVALID_SIGNATURE"),
    ],
    ids=["none", "empty", "format", "expired", "wrong-campaign", "bad-signature"],
)
def test_every_refusal_shows_the_error_screen_with_its_code(
    client: TestClient[Any], account_id: str, token: str | None, code: str
) -> None:
    """Each refusal renders the error screen carrying its §2 code, framable like the page."""
    response = _page(client, account_id, token)
    assert response.status_code == 422
    assert _code(response.text) == code
    assert f"frame-ancestors {PARENT}" in response.headers["content-security-policy"]


def test_can_play_false_shows_the_gate(client: TestClient[Any], account_id: str) -> None:
    """limit.canPlay false renders the "you cannot take part" screen, with no form."""
    html = _page(client, account_id, _token(limit={"canPlay": False})).text
    assert 'data-gate="conditions"' in html
    assert "form_token" not in html


def test_the_prize_is_shown_from_a_verified_token(client: TestClient[Any], account_id: str) -> None:
    """gift.label and gift.cw appear on the form page."""
    html = _page(client, account_id, _token(gift={"label": "A bike", "cw": True})).text
    assert "A bike" in html
    assert 'data-can-win="true"' in html


def _submit(
    client: TestClient[Any], account_id: str, form_token: str, campaign: str = CAMPAIGN, **h: str
):
    return client.post(
        f"/play/{account_id}/{campaign}/participations",
        content=f"form_token={form_token}&firstname=Ada",
        headers={"Content-Type": "application/x-www-form-urlencoded", **h},
    )


def test_limit_nb_allows_two_participations_and_refuses_the_third(
    client: TestClient[Any], account_id: str
) -> None:
    """With limit.nb 2, two forms are accepted; then the page shows the gate and a third
    form already shown is refused."""
    token = _token(sub="nb-two", limit={"nb": 2})
    forms = [_form_token(_page(client, account_id, token).text) for _ in range(3)]
    for form in forms[:2]:
        response = _submit(client, account_id, form)
        assert response.status_code == 200, response.text
        assert 'data-step="thanks"' in response.text
    assert 'data-gate="limit"' in _page(client, account_id, token).text
    refused = _submit(client, account_id, forms[2])
    assert refused.status_code == 409
    assert _code(refused.text) == "PARTICIPATION_LIMIT_REACHED"


def test_a_form_counts_once_and_only_for_its_campaign(
    client: TestClient[Any], account_id: str
) -> None:
    """A form token replayed is FORM_USED; posted to another campaign it is FORM_INVALID;
    a tampered one is FORM_INVALID; posted from another site it is FORM_CROSS_SITE."""
    form = _form_token(_page(client, account_id, _token(sub="once")).text)
    assert _code(_submit(client, account_id, form, campaign="2002").text) == "FORM_INVALID"
    tampered = form[:-4] + ("AAAA" if not form.endswith("AAAA") else "BBBB")
    assert _code(_submit(client, account_id, tampered).text) == "FORM_INVALID"
    cross = _submit(client, account_id, form, Origin="https://evil.example")
    assert _code(cross.text) == "FORM_CROSS_SITE"
    assert _submit(client, account_id, form).status_code == 200
    assert _code(_submit(client, account_id, form).text) == "FORM_USED"


def test_identify_answers_the_identification(client: TestClient[Any], account_id: str) -> None:
    """POST /v1/identify answers subject, prefill, can_play and the gift as JSON."""
    token = _token(sub="json-1", profile={"firstname": "Ada"}, gift={"label": "Mug", "cw": False})
    response = client.post(
        "/v1/identify", json={"account": account_id, "campaign": CAMPAIGN, "token": token}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "json-1"
    assert body["prefill"] == {"firstname": "Ada"}
    assert body["can_play"] is True
    assert body["gift"] == {"label": "Mug", "can_win": False}
    assert body["encrypted"] is False


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"campaign": CAMPAIGN, "token": ""}, 422, "TOKEN_EMPTY"),
        ({"campaign": CAMPAIGN, "token": "x.y"}, 422, "TOKEN_INVALID_FORMAT"),
        ({"campaign": "nope", "token": "x"}, 404, "CAMPAIGN_NOT_FOUND"),
    ],
    ids=["empty", "format", "unknown-campaign"],
)
def test_identify_refusals_are_problems_with_their_code(
    client: TestClient[Any], account_id: str, payload: dict[str, str], status: int, code: str
) -> None:
    """Refusals of /v1/identify are problem+json naming the code."""
    response = client.post("/v1/identify", json={"account": account_id, **payload})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_identify_refuses_a_malformed_body(client: TestClient[Any]) -> None:
    """A body that is not the documented JSON is a 400 REQUEST_INVALID, not a 500."""
    response = client.post("/v1/identify", content=b"[1,2")
    assert response.status_code == 400
    assert response.json()["code"] == "REQUEST_INVALID"


def test_an_unknown_account_is_not_found_and_cannot_be_framed(client: TestClient[Any]) -> None:
    """An unknown account's campaign is CAMPAIGN_NOT_FOUND, framable nowhere."""
    response = client.get("/play/no-such-account/1001", params={"qual_token": _token()})
    assert response.status_code == 404
    assert _code(response.text) == "CAMPAIGN_NOT_FOUND"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_embed_loader_is_served_as_javascript(client: TestClient[Any]) -> None:
    """/kit/embed.js is JavaScript with the command queue."""
    response = client.get("/kit/embed.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "createIframe" in response.text


def test_ready_while_redis_answers_and_not_after(
    settings: Settings, vault: Vault, make_account: Callable[..., Account]
) -> None:
    """/health/ready is 200 with the form keys read and Redis up; Redis gone, it is 503
    UNKNOWN with Retry-After (a load balancer stops sending forms that could not count)."""
    make_account()
    ensure_form_keys(vault)
    redis_server = RedisServer().start()
    try:
        app = create_app(Settings(**{**_fields(settings), "redis_url": redis_server.url}))
        with TestClient(app) as client:
            ready = client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "redis": "ok"}
            redis_server.stop()
            down = client.get("/health/ready")
            assert down.status_code == 503, down.text
            assert down.json()["code"] == "UNKNOWN"
            assert down.headers["retry-after"]
    finally:
        redis_server.stop()
