"""Single sign-on (channel 3) in Chromium, against a real OpenID provider (oidc-provider on
Node, its dev login and consent forms): top-level campaigns sign in in the window, framed
ones in a popup whose result comes back to the frame; every refusal is a screen with its
code and, in a frame with a messages channel, an `error` message to the customer's page.

The player is `localhost:P`, the IdPs and the customer's site `127.0.0.1`: three sites."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import pytest
from playwright.sync_api import Frame, Page, Route

from player.app import create_app
from shared.accounts import Account
from shared.identity import PlayerSecretsStore, ensure_form_keys
from shared.identity.sso import IdpHttp, SsoClient
from shared.settings import Settings
from shared.vault import Vault
from tests.support.asgi_server import AsgiServer
from tests.support.browser import OfflineBrowser
from tests.support.customer_site import CustomerSite, messages_page
from tests.support.oidc_provider import OidcProvider, Provider
from tests.support.openbao import free_port
from tests.support.redis_server import RedisServer
from tests.support.sso import BASIC, CAMPAIGN, POST, Client, identity_providers, put_sso_account

#: The player's sign-in deadline in these tests (seconds): a slow IdP shows quickly.
DEADLINE = 1.5
PORT = free_port()
PLAYER = f"localhost:{PORT}"
CALLBACK = f"http://{PLAYER}/oauth/callback"


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    """The customer's IdP and another provider (the mix-up), once for the module."""
    with identity_providers(CALLBACK) as provider:
        yield provider


@pytest.fixture
def provider(idp: OidcProvider) -> Provider:
    idp.providers[0].reset()
    return idp.providers[0]


@pytest.fixture(scope="module")
def player(settings: Settings, vault: Vault, redis_server: RedisServer) -> Iterator[str]:
    """The player over real HTTP as ``localhost:PORT``, once for the module."""
    ensure_form_keys(vault)
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    app_settings = Settings(**{**fields, "redis_url": redis_server.url})
    sso = SsoClient(redis_server.url, PlayerSecretsStore(vault), http=IdpHttp(deadline=DEADLINE))
    with AsgiServer(create_app(app_settings, overrides={"sso": sso}), port=PORT):
        yield PLAYER


@pytest.fixture
def site() -> Iterator[CustomerSite]:
    with CustomerSite() as customer:
        yield customer


@pytest.fixture
def account(
    vault: Vault, make_account: Callable[..., Account], account_id: str, site: CustomerSite
) -> Callable[..., str]:
    """``account(issuer, client=POST, **sso)``: the test's account, framable by the site."""
    make_account()

    def make(issuer: str, client: Client = POST, **sso: Any) -> str:
        put_sso_account(vault, account_id, issuer, client, parent_origins=(site.origin,), **sso)
        return account_id

    return make


@contextmanager
def _page(browser: OfflineBrowser) -> Iterator[Page]:
    with browser.page() as page:
        # The popups too end at this host (the page's own route does not follow them).
        page.context.route("**/*", browser._route)
        yield page


def _login(window: Page, login: str = "ada", *, consent: bool = True) -> None:
    """Sign in on the IdP's dev forms and accept (or cancel) the consent; an IdP session
    from earlier in the test may skip either form."""
    forms = 'input[name="prompt"]'
    for _ in range(2):
        # A form of the IdP, or already back (the player's page, or a held answer).
        window.wait_for_selector(f"{forms}, main[data-step], a#held", state="attached")
        if window.query_selector(forms) is None:
            return
        prompt = window.get_attribute(forms, "value")
        if prompt == "login":
            window.fill('input[name="login"]', login)
            window.fill('input[name="password"]', "any password")
            window.click('button[type="submit"]')
            window.wait_for_load_state()
        elif consent:
            window.click('button[type="submit"]')
            return
        else:
            window.click("text=[ Cancel ]")
            return


def _step(target: Page | Frame, step: str) -> str:
    target.wait_for_selector(f'main[data-step="{step}"]', timeout=15_000)
    return target.content()


def _code(html: str) -> str | None:
    found = re.search(r'data-code="([A-Z_]+)"', html)
    return found.group(1) if found else None


def _signed_in_form(page: Page, account_id: str) -> Page:
    """A top-level campaign: sign in in the window, back on the prefilled form."""
    page.goto(f"http://{PLAYER}/play/{account_id}/{CAMPAIGN}")
    _step(page, "sso")
    page.click("a[data-sso-start]")
    _login(page)
    _step(page, "form")
    return page


@pytest.mark.parametrize(
    ("source", "scope", "client"),
    [
        ("userinfo", "openid profile email", POST),
        ("access_token", "openid profile email player", BASIC),
        ("id_token", "openid profile email", BASIC),
    ],
)
def test_a_top_level_campaign_signs_in_and_prefills_the_form(
    browser: OfflineBrowser,
    player: str,
    provider: Provider,
    account: Callable[..., str],
    source: str,
    scope: str,
    client: Client,
) -> None:
    """Start the campaign, go to the IdP's login page, log in, consent, land back on the
    campaign with the form prefilled from each profile source; the code and state are not
    left in the address bar; the client authentication sent is the configured one, read on
    the wire (the IdP's record of the token request)."""
    account_id = account(provider.issuer, client, profile_source=source, scope=scope)
    with _page(browser) as page:
        _signed_in_form(page, account_id)
        assert page.input_value('input[name="firstname"]') == "Ada"
        assert page.input_value('input[name="lastname"]') == "Lovelace"
        assert page.input_value('input[name="email"]') == "ada@example.com"
        assert page.input_value('input[name="birthdate"]') == "1990-12-10"
        assert urlsplit(page.url).path == f"/play/{account_id}/{CAMPAIGN}"
        assert "code=" not in page.url
        page.click('button[type="submit"]')
        _step(page, "thanks")
    (request,) = provider.token_requests()
    if client is BASIC:
        pair = f"{quote_plus(BASIC.id, safe='')}:{quote_plus(BASIC.secret, safe='')}"
        assert request["authorization"] == "Basic " + base64.b64encode(pair.encode()).decode()
        assert "client_secret" not in request["params"]
    else:
        assert request["authorization"] is None
        assert request["params"]["client_secret"] == POST.secret
    assert request["params"]["code_verifier"]


def _framed(page: Page, site: CustomerSite, account_id: str) -> Frame:
    """The customer's page, framing the campaign and recording its messages."""
    site.pages["/shop.html"] = messages_page(PLAYER, account_id, CAMPAIGN, None)
    page.goto(f"{site.origin}/shop.html")
    handle = page.wait_for_selector("#campaign_iframe")
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None
    _step(frame, "sso")
    return frame


def _popup(page: Page, frame: Frame) -> Page:
    """Click the framed campaign's "Sign in": the popup it opens."""
    with page.expect_popup() as opened:
        frame.click("a[data-sso-start]")
    return opened.value


def _errors(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        "events.filter(e => e.type === 'error').map(e => e.data)"
    )
    return found


def test_a_framed_campaign_signs_in_in_a_popup(
    browser: OfflineBrowser,
    player: str,
    provider: Provider,
    account: Callable[..., str],
    site: CustomerSite,
) -> None:
    """In a frame, "Sign in" opens the IdP in a popup (IdPs refuse to be framed); once
    signed in the popup closes and the frame shows the prefilled form; the page hears no
    error."""
    account_id = account(provider.issuer)
    with _page(browser) as page:
        frame = _framed(page, site, account_id)
        popup = _popup(page, frame)
        assert urlsplit(popup.url).netloc in (PLAYER, urlsplit(provider.issuer).netloc)
        _login(popup)
        popup.wait_for_event("close", timeout=15_000)
        _step(frame, "form")
        assert frame.input_value('input[name="firstname"]') == "Ada"
        assert frame.input_value('input[name="email"]') == "ada@example.com"
        assert _errors(page) == []


def test_a_refused_consent_in_a_popup_reaches_the_frame_and_the_page(
    browser: OfflineBrowser,
    player: str,
    provider: Provider,
    account: Callable[..., str],
    site: CustomerSite,
) -> None:
    """Cancelling at the IdP (access_denied): the frame shows SSO_DENIED with its sentence,
    and the customer's page gets `error` {divId, code}."""
    account_id = account(provider.issuer)
    with _page(browser) as page:
        frame = _framed(page, site, account_id)
        _login(_popup(page, frame), consent=False)
        html = _step(frame, "error")
        assert _code(html) == "SSO_DENIED"
        assert "cancelled or refused" in html
        page.wait_for_function("events.some(e => e.type === 'error')", timeout=15_000)
        assert _errors(page) == [{"divId": "campaign", "code": "SSO_DENIED"}]


def test_a_refused_consent_at_the_top_shows_its_screen(
    browser: OfflineBrowser, player: str, provider: Provider, account: Callable[..., str]
) -> None:
    """The same refusal in a top-level campaign: the SSO_DENIED screen, a 403, no 500."""
    account_id = account(provider.issuer)
    with _page(browser) as page:
        page.goto(f"http://{PLAYER}/play/{account_id}/{CAMPAIGN}")
        page.click("a[data-sso-start]")
        with page.expect_response(lambda r: "/oauth/callback" in r.url) as answer:
            _login(page, consent=False)
        assert answer.value.status == 403
        assert _code(_step(page, "error")) == "SSO_DENIED"


def _callback_url(page: Page, provider: Provider, account_id: str) -> str:
    """Sign in in ``page`` up to the IdP's answer, held at the IdP: the callback URL."""
    page.goto(f"http://{PLAYER}/play/{account_id}/{CAMPAIGN}")
    provider.hold()
    page.click("a[data-sso-start]")
    _login(page)
    link = page.wait_for_selector("a#held", timeout=15_000)
    assert link is not None
    href = link.get_attribute("href")
    assert href is not None
    assert href.startswith(CALLBACK)
    return href


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def test_a_forged_replayed_or_other_browser_state_is_refused(
    browser: OfflineBrowser, player: str, provider: Provider, account: Callable[..., str]
) -> None:
    """A state that came back to another browser (its own cookies) is refused, and spent;
    a forged one is refused; a good answer replayed after use is refused: the screen
    SSO_STATE_INVALID each time, and no code is ever redeemed for them."""
    account_id = account(provider.issuer)
    with _page(browser) as page:
        stolen = _callback_url(page, provider, account_id)
        with _page(browser) as other:
            other.goto(stolen)
            assert _code(_step(other, "error")) == "SSO_STATE_INVALID"
        page.goto(stolen)  # spent by the other browser's attempt
        assert _code(_step(page, "error")) == "SSO_STATE_INVALID"
        page.goto(_with(stolen, state="A" * 43))
        assert _code(_step(page, "error")) == "SSO_STATE_INVALID"
        assert provider.token_requests() == []
        good = _callback_url(page, provider, account_id)
        page.goto(good)
        _step(page, "form")
        page.goto(good)
        html = _step(page, "error")
        assert _code(html) == "SSO_STATE_INVALID"
        assert "sign in again" in html
    assert len(provider.token_requests()) == 1


def test_a_code_redeemed_twice_fails_cleanly(
    browser: OfflineBrowser, player: str, provider: Provider, account: Callable[..., str]
) -> None:
    """The first sign-in's code, brought back with a second sign-in's state: the IdP says
    invalid_grant and the participant sees SSO_FAILED (a 502 screen), not a 500."""
    account_id = account(provider.issuer)
    with _page(browser) as page:
        first = _callback_url(page, provider, account_id)
        page.goto(first)
        _step(page, "form")
        second = _callback_url(page, provider, account_id)
        code = parse_qs(urlsplit(first).query)["code"][0]
        with page.expect_response(lambda r: "/oauth/callback" in r.url) as answer:
            page.goto(_with(second, code=code))
        assert answer.value.status == 502
        assert _code(_step(page, "error")) == "SSO_FAILED"
    assert [r["status"] for r in provider.token_requests()] == [200, 400]


def test_a_mix_up_is_refused(
    browser: OfflineBrowser,
    player: str,
    idp: OidcProvider,
    provider: Provider,
    account: Callable[..., str],
) -> None:
    """The authorization request is taken to another provider (which knows the same client)
    and the participant signs in there: its answer names its own issuer (RFC 9207), and the
    campaign refuses it, SSO_ISSUER_MISMATCH, without redeeming the code anywhere."""
    account_id = account(provider.issuer)
    other = idp.providers[1]
    other.reset()

    def elsewhere(route: Route) -> None:
        # The player's redirect to its IdP, sent to the other one (a redirect itself is not
        # routed: the request that answers it is).
        answer = route.fetch(max_redirects=0)
        location = answer.headers["location"].replace(provider.issuer, other.issuer, 1)
        route.fulfill(response=answer, headers={**answer.headers, "location": location})

    with _page(browser) as page:
        page.route(f"http://{PLAYER}/sso/**", elsewhere)
        page.goto(f"http://{PLAYER}/play/{account_id}/{CAMPAIGN}")
        page.click("a[data-sso-start]")
        _login(page)
        html = _step(page, "error")
        assert _code(html) == "SSO_ISSUER_MISMATCH"
        assert parse_qs(urlsplit(page.url).query)["iss"] == [other.issuer]
    assert provider.token_requests() == []
    assert other.token_requests() == []


def test_a_down_idp_reaches_the_frame_and_the_page(
    browser: OfflineBrowser,
    player: str,
    account: Callable[..., str],
    site: CustomerSite,
) -> None:
    """An IdP that does not answer: the popup hands SSO_UNAVAILABLE back, the frame shows
    the retryable screen, the customer's page gets `error` with the code."""
    account_id = account(f"http://127.0.0.1:{free_port()}")
    with _page(browser) as page:
        frame = _framed(page, site, account_id)
        _popup(page, frame).wait_for_event("close", timeout=15_000)
        html = _step(frame, "error")
        assert _code(html) == "SSO_UNAVAILABLE"
        page.wait_for_function("events.some(e => e.type === 'error')", timeout=15_000)
        assert _errors(page) == [{"divId": "campaign", "code": "SSO_UNAVAILABLE"}]


def test_a_slow_idp_shows_a_retryable_screen_in_bounded_time(
    browser: OfflineBrowser, player: str, provider: Provider, account: Callable[..., str]
) -> None:
    """A token endpoint slower than the deadline: SSO_UNAVAILABLE (503, "try again") soon
    after the deadline, not a hang."""
    account_id = account(provider.issuer)
    with _page(browser) as page:
        callback = _callback_url(page, provider, account_id)
        provider.delay(DEADLINE + 3)
        began = time.monotonic()
        with page.expect_response(lambda r: "/oauth/callback" in r.url) as answer:
            page.goto(callback)
        took = time.monotonic() - began
        assert answer.value.status == 503
        html = _step(page, "error")
        assert _code(html) == "SSO_UNAVAILABLE"
        assert 'data-retryable="true"' in html
    assert took < DEADLINE + 1.5
