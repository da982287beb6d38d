"""The campaign player in Chromium, embedded with its tag on a customer's page of another
origin (customer: 127.0.0.1, player: localhost): prefill, codes, gate, and framing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Frame, Page

from player.app import create_app
from shared.accounts import Account, KeyStore
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.settings import Settings
from shared.tokens.sealing import Sealer
from shared.vault import Vault
from tests.support.asgi_server import AsgiServer
from tests.support.browser import OfflineBrowser
from tests.support.customer_site import CustomerSite, embed_page
from tests.support.jwks_server import JwksServer
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, flip, private_key, sign

CAMPAIGN = "1001"


@pytest.fixture
def site() -> Iterator[CustomerSite]:
    """The customer's site (allowed to frame the account's campaigns)."""
    with CustomerSite() as customer:
        yield customer


@pytest.fixture
def player_host(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
    site: CustomerSite,
) -> Iterator[str]:
    """The player over real HTTP, as ``localhost:PORT``, for an ES256 account framable by
    the customer's site only."""
    make_account()
    ensure_form_keys(vault)
    PlayerStore(vault).put(
        account_id,
        PlayerSettings(
            parent_origins=(site.origin,),
            campaigns={CAMPAIGN: Campaign(title="Summer quiz")},
        ),
        expected=0,
    )
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    app = create_app(Settings(**{**fields, "redis_url": redis_server.url}))
    with AsgiServer(app) as server:
        yield f"localhost:{server.port}"


def _campaign_frame(page: Page) -> Frame:
    page.wait_for_selector("#campaign_iframe")
    handle = page.query_selector("#campaign_iframe")
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None
    return frame


def _open(
    browser: OfflineBrowser, site: CustomerSite, html: str, run: Callable[[Page], Any]
) -> Any:
    site.pages["/shop.html"] = html
    with browser.page() as page:
        page.goto(f"{site.origin}/shop.html")
        return run(page)


def test_an_embedded_jws_shows_the_prefilled_form(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """Through the embed tag, a JWS prefills the campaign's form inside the iframe."""
    token = sign(
        claims(CAMPAIGN, profile={"firstname": "Ada", "email": "ada@example.com"}),
        "ES256",
        "ec-p256",
    )

    def run(page: Page) -> tuple[str, str]:
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="form"]')
        return (
            frame.input_value('input[name="firstname"]'),
            frame.input_value('input[name="email"]'),
        )

    assert _open(browser, site, embed_page(player_host, account_id, CAMPAIGN, token), run) == (
        "Ada",
        "ada@example.com",
    )


def test_an_embedded_jwe_shows_the_prefilled_form(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    vault: Vault,
    settings: Settings,
) -> None:
    """A JWE sealed with the account's Transit key (as the Crypto API seals) prefills too."""
    jws = sign(claims(CAMPAIGN, profile={"lastname": "Lovelace"}), "ES256", "ec-p256")
    jwe = Sealer(KeyStore(vault), settings).seal(account_id, jws)

    def run(page: Page) -> str:
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="form"]')
        return frame.input_value('input[name="lastname"]')

    assert (
        _open(browser, site, embed_page(player_host, account_id, CAMPAIGN, jwe), run) == "Lovelace"
    )


def _valid() -> str:
    return sign(claims(CAMPAIGN), "ES256", "ec-p256")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda: sign(claims(CAMPAIGN, exp=int(time.time()) - 3600), "ES256", "ec-p256"),
            "TOKEN_EXPIRED",
        ),
        (
            lambda: ".".join([*_valid().split(".")[:2], flip(_valid().split(".")[2])]),
            "TOKEN_INVALID_SIGNATURE",
        ),
        (lambda: sign(claims("9999"), "ES256", "ec-p256"), "TOKEN_INVALID_CLAIMS"),
        (lambda: None, "TOKEN_EMPTY"),
    ],
    ids=["expired", "tampered", "wrong-campaign", "empty"],
)
def test_each_refusal_shows_its_code_in_the_iframe(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    make: Callable[[], str | None],
    code: str,
) -> None:
    """Expired, tampered, wrong-campaign and empty tokens each show their exact code."""

    def run(page: Page) -> str | None:
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="error"]')
        return frame.get_attribute("main", "data-code")

    assert _open(browser, site, embed_page(player_host, account_id, CAMPAIGN, make()), run) == code


def test_can_play_false_shows_the_gate_in_the_iframe(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """limit.canPlay false shows the "you cannot take part" screen."""
    token = sign(claims(CAMPAIGN, limit={"canPlay": False}), "ES256", "ec-p256")

    def run(page: Page) -> str | None:
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="gate"]')
        return frame.get_attribute("main", "data-gate")

    assert (
        _open(browser, site, embed_page(player_host, account_id, CAMPAIGN, token), run)
        == "conditions"
    )


def test_an_exhausted_limit_shows_the_gate_after_two_participations(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """limit.nb 2: two forms submitted in the iframe are thanked; the third load shows the gate."""
    token = sign(claims(CAMPAIGN, sub="nb-browser", limit={"nb": 2}), "ES256", "ec-p256")
    html = embed_page(player_host, account_id, CAMPAIGN, token)

    def submit(page: Page) -> str | None:
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="form"]')
        frame.click('button[type="submit"]')
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="thanks"]')
        return frame.get_attribute("main", "data-step")

    assert _open(browser, site, html, submit) == "thanks"
    assert _open(browser, site, html, submit) == "thanks"

    def gate(page: Page) -> str | None:
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="gate"]')
        return frame.get_attribute("main", "data-gate")

    assert _open(browser, site, html, gate) == "limit"


def test_a_page_of_another_origin_cannot_frame_the_campaign(
    browser: OfflineBrowser, player_host: str, account_id: str
) -> None:
    """Chromium refuses to show the campaign in a page of an origin outside parent_origins."""
    token = sign(claims(CAMPAIGN, profile={"firstname": "Ada"}), "ES256", "ec-p256")
    with CustomerSite() as other:
        other.pages["/evil.html"] = embed_page(player_host, account_id, CAMPAIGN, token)
        with browser.page() as page:
            refused: list[str] = []
            page.on("console", lambda message: refused.append(message.text))
            page.goto(f"{other.origin}/evil.html")
            frame = _campaign_frame(page)
            page.wait_for_timeout(1000)
            assert frame.query_selector("main[data-step]") is None
            # Chromium's own error page stands in for the campaign: no form, no field.
            assert frame.query_selector('input[name="firstname"]') is None
            assert any("frame-ancestors" in text for text in refused), refused


@pytest.mark.parametrize("method", ["symmetric", "jwks"])
def test_a_jws_of_each_other_method_prefills_the_form(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    vault: Vault,
    make_account: Callable[..., Account],
    jwks_server: JwksServer,
    hmac_secret: bytes,
    method: str,
) -> None:
    """A JWS checked with a symmetric key (HS256) or a JWKS endpoint (RS256, by kid)
    prefills the embedded form like a public-key one."""
    other = f"{account_id}-{method[:3]}"
    if method == "symmetric":
        make_account("symmetric", algorithms=("HS256",), secret=hmac_secret, id=other)
        token = sign(claims(CAMPAIGN, profile={"firstname": "Hal"}), "HS256", hmac_secret)
    else:
        jwks_server.document = {
            "keys": [{**private_key("rsa-2048").as_dict(private=False), "kid": "r1"}]
        }
        make_account("jwks", algorithms=("RS256",), jwks_uri=jwks_server.url, id=other)
        token = sign(claims(CAMPAIGN, profile={"firstname": "Jo"}), "RS256", "rsa-2048", kid="r1")
    PlayerStore(vault).put(
        other,
        PlayerSettings(parent_origins=(site.origin,), campaigns={CAMPAIGN: Campaign(title="Quiz")}),
        expected=0,
    )

    def run(page: Page) -> str:
        frame = _campaign_frame(page)
        frame.wait_for_selector('main[data-step="form"]')
        return frame.input_value('input[name="firstname"]')

    expected = "Hal" if method == "symmetric" else "Jo"
    assert _open(browser, site, embed_page(player_host, other, CAMPAIGN, token), run) == expected
