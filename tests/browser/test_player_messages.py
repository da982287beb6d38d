"""The bilateral messages in Chromium (issue 15): the customer's page (127.0.0.1) embeds a
campaign of the player (localhost) with the loader; the campaign asks `isLoggedIn`, the page
answers `userInfo` with a JWT, the player's server verifies it and the form is prefilled;
refusals go back to the page as `error` codes. Origins, windows and shapes are checked on
both sides, and nothing is ever sent to '*'."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Frame, Page

from player.app import create_app
from shared.accounts import Account, KeyStore
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.settings import Settings
from shared.tokens.sealing import Sealer
from shared.vault import Vault
from tests.support.apis import serve_apis
from tests.support.asgi_server import AsgiServer
from tests.support.browser import OfflineBrowser
from tests.support.customer_site import CustomerSite, messages_page, recorder_page
from tests.support.profile_server import ProfileServer
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import claims, flip, replace_part, sign

CAMPAIGN = "1001"
#: How long a campaign waits for the page's answer in these tests (seconds).
WAIT = 30


def _fields(settings: Settings) -> dict[str, Any]:
    return {f: getattr(settings, f) for f in settings.__struct_fields__}


@pytest.fixture
def site() -> Iterator[CustomerSite]:
    """The customer's site, the account's one parent origin."""
    with CustomerSite() as customer:
        yield customer


def _messages_settings(site: CustomerSite, **extra: Any) -> PlayerSettings:
    return PlayerSettings(
        identification="messages",
        parent_origins=(site.origin,),
        campaigns={CAMPAIGN: Campaign(title="Summer quiz")},
        **{"message_wait": WAIT, **extra},
    )


@pytest.fixture
def player_host(
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
    site: CustomerSite,
) -> Iterator[str]:
    """The player over real HTTP as ``localhost:PORT``, for an ES256 account identifying by
    messages with the customer's site."""
    make_account()
    ensure_form_keys(vault)
    PlayerStore(vault).put(account_id, _messages_settings(site), expected=0)
    app = create_app(Settings(**{**_fields(settings), "redis_url": redis_server.url}))
    with AsgiServer(app) as server:
        yield f"localhost:{server.port}"


def _frame(page: Page, div_id: str = "campaign") -> Frame:
    handle = page.wait_for_selector(f"#{div_id}_iframe")
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None
    return frame


def _events(page: Page, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        "kind => events.filter(e => e.type === kind).map(e => e.data)", kind
    )
    return found


def _wait_event(page: Page, kind: str) -> dict[str, Any]:
    page.wait_for_function("kind => events.some(e => e.type === kind)", arg=kind, timeout=15_000)
    return _events(page, kind)[0]


@contextmanager
def _open(browser: OfflineBrowser, site: CustomerSite, html: str) -> Iterator[Page]:
    site.pages["/shop.html"] = html
    with browser.page() as page:
        page.goto(f"{site.origin}/shop.html")
        yield page


def _token(**extra: Any) -> str:
    return sign(claims(CAMPAIGN, **extra), "ES256", "ec-p256")


def _logged_in_form(page: Page) -> Frame:
    """Wait for the campaign to ask, "log in", and return the frame once the form shows."""
    asked = _wait_event(page, "isLoggedIn")
    assert asked == {"divId": "campaign"}
    page.click("#login")
    frame = _frame(page)
    frame.wait_for_selector('main[data-step="form"]', timeout=15_000)
    return frame


def test_a_jwe_from_the_crypto_api_prefills_the_form(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    settings: Settings,
) -> None:
    """The page answers `userInfo` with a JWE the Crypto API made (over HTTP, with a
    bearer from the Authorization API): the campaign's form is prefilled."""
    jws = _token(profile={"firstname": "Ada", "email": "ada@example.com"})
    with serve_apis(settings) as apis:
        answer = apis.crypto.encrypt(apis.crypto.bearer(account_id), jws)
    assert answer.status_code == 200, answer.text
    jwe = answer.json()["token"]
    assert jwe.count(".") == 4
    with _open(browser, site, messages_page(player_host, account_id, CAMPAIGN, jwe)) as page:
        frame = _logged_in_form(page)
        assert frame.input_value('input[name="firstname"]') == "Ada"
        assert frame.input_value('input[name="email"]') == "ada@example.com"
        assert _events(page, "error") == []


def test_a_jws_prefills_the_form_and_the_form_is_taken(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """A JWS from the page prefills the form, which is then submitted as on channel 1."""
    token = _token(sub="by-message", profile={"lastname": "Lovelace"})
    with _open(browser, site, messages_page(player_host, account_id, CAMPAIGN, token)) as page:
        frame = _logged_in_form(page)
        assert frame.input_value('input[name="lastname"]') == "Lovelace"
        frame.click('button[type="submit"]')
        _frame(page).wait_for_selector('main[data-step="thanks"]')


def test_a_token_carrying_an_access_token_prefills_from_the_profile_api(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    vault: Vault,
) -> None:
    """A JWS with an access token and no data: the player fetches the profile from the
    account's profile API (a real local server) with it and prefills from the answer."""
    profiles = ProfileServer().start()
    try:
        store = PlayerStore(vault)
        _, version = store.get_versioned(account_id)
        store.put(
            account_id,
            _messages_settings(site, profile_api=profiles.url("/profile")),
            expected=version,
        )
        token = _token(access_token="at-from-the-page")
        with _open(browser, site, messages_page(player_host, account_id, CAMPAIGN, token)) as page:
            frame = _logged_in_form(page)
            assert frame.input_value('input[name="email"]') == "ada@example.com"
        assert profiles.authorizations == ["Bearer at-from-the-page"]
    finally:
        profiles.stop()


def _tampered_jwe(vault: Vault, settings: Settings, account_id: str) -> str:
    """A JWE sealed for the account (as the Crypto API seals), its ciphertext flipped."""
    sealed = Sealer(KeyStore(vault), settings).seal(account_id, _token())
    return replace_part(sealed, 3, flip(sealed.split(".")[3], 5))


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda *_: _token(exp=int(time.time()) - 3600), "TOKEN_EXPIRED"),
        (
            lambda *_: ".".join([*_token().split(".")[:2], flip(_token().split(".")[2])]),
            "TOKEN_INVALID_SIGNATURE",
        ),
        (lambda *_: "not.a-token", "TOKEN_INVALID_FORMAT"),
        (lambda *_: "", "TOKEN_EMPTY"),
        (_tampered_jwe, "TOKEN_DECRYPTION_FAILED"),
    ],
    ids=["expired", "bad-signature", "bad-format", "empty", "decryption-failed"],
)
def test_each_refusal_reaches_the_page_error_callback_with_its_code(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    vault: Vault,
    settings: Settings,
    make: Callable[[Vault, Settings, str], str],
    code: str,
) -> None:
    """The page's `error` callback gets `{divId, code}` with the exact code; the campaign
    shows the blocked screen (spinner) with the same code."""
    token = make(vault, settings, account_id)
    with _open(browser, site, messages_page(player_host, account_id, CAMPAIGN, token)) as page:
        _wait_event(page, "isLoggedIn")
        page.click("#login")
        assert _wait_event(page, "error") == {"divId": "campaign", "code": code}
        frame = _frame(page)
        assert frame.get_attribute("main", "data-step") == "error"
        assert frame.get_attribute("main", "data-code") == code
        assert frame.query_selector(".spinner") is not None
        assert frame.query_selector('input[name="firstname"]') is None


def test_vault_down_reaches_the_page_as_unknown(
    browser: OfflineBrowser,
    site: CustomerSite,
    settings: Settings,
    vault: Vault,
    redis_server: RedisServer,
    make_account: Callable[..., Account],
    account_id: str,
) -> None:
    """Vault unreachable once the campaign is shown: the page's JWE cannot be opened
    (Transit), and the page is told UNKNOWN (retryable, not the participant's fault), never
    a hang or a 500."""
    make_account()
    ensure_form_keys(vault)
    PlayerStore(vault).put(account_id, _messages_settings(site), expected=0)
    port = int(settings.vault_addr.rsplit(":", 1)[1])
    with TcpProxy("127.0.0.1", port) as proxy:
        through = {**_fields(settings), "vault_addr": proxy.addr, "vault_timeout": 1.0}
        app = create_app(Settings(**{**through, "redis_url": redis_server.url}))
        with AsgiServer(app) as server:
            jwe = Sealer(KeyStore(vault), settings).seal(account_id, _token())
            html = messages_page(f"localhost:{server.port}", account_id, CAMPAIGN, jwe)
            with _open(browser, site, html) as page:
                _wait_event(page, "isLoggedIn")  # the settings and account are read (cached)
                proxy.stop()  # but a JWE is opened by Transit, every time
                page.click("#login")
                assert _wait_event(page, "error") == {"divId": "campaign", "code": "UNKNOWN"}
                assert _frame(page).get_attribute("main", "data-code") == "UNKNOWN"


def test_the_page_may_show_its_pre_login_screen_first(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """The campaign asks `requestParticipantAction`; answered true, it shows its pre-login
    screen and asks `isLoggedIn` only when the person says they signed in."""
    token = _token(profile={"firstname": "Pre"})
    html = messages_page(player_host, account_id, CAMPAIGN, token, prelogin=True)
    with _open(browser, site, html) as page:
        assert _wait_event(page, "requestParticipantAction") == {"divId": "campaign"}
        frame = _frame(page)
        frame.wait_for_selector('main[data-state="prelogin"]')
        page.wait_for_timeout(300)
        assert _events(page, "isLoggedIn") == []
        page.evaluate("window.login()")  # signed in on the page, before being asked
        frame.click('section[data-when="prelogin"] button')
        frame = _frame(page)
        frame.wait_for_selector('main[data-step="form"]')
        assert frame.input_value('input[name="firstname"]') == "Pre"


def test_the_page_may_ask_for_the_pre_login_screen_at_any_time(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """`requestParticipantAction` the other way: the page sends it unprompted while the
    campaign waits; true shows the pre-login screen, false asks `isLoggedIn` again."""
    with _open(browser, site, messages_page(player_host, account_id, CAMPAIGN, _token())) as page:
        _wait_event(page, "isLoggedIn")
        send = "payload => _qual_async.push(['sendChildMessage', 'campaign', "
        page.evaluate(send + "'requestParticipantAction', payload])", True)
        frame = _frame(page)
        frame.wait_for_selector('main[data-state="prelogin"]')
        page.evaluate(send + "'requestParticipantAction', payload])", False)
        page.wait_for_function("events.filter(e => e.type === 'isLoggedIn').length === 2")
        assert frame.get_attribute("main", "data-state") == "asking"


def test_a_silent_page_gets_a_clear_state_after_the_wait(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    vault: Vault,
) -> None:
    """The page never answers `isLoggedIn`: after the account's `message_wait` the campaign
    says so (and tells the page TOKEN_EMPTY); "Try again" asks once more."""
    store = PlayerStore(vault)
    store.put(account_id, _messages_settings(site, message_wait=2), expected=1)
    html = messages_page(player_host, account_id, CAMPAIGN, _token())
    with _open(browser, site, html) as page:
        _wait_event(page, "isLoggedIn")
        started = time.monotonic()
        assert _wait_event(page, "error") == {"divId": "campaign", "code": "TOKEN_EMPTY"}
        assert 1.5 < time.monotonic() - started < 10
        frame = _frame(page)
        assert frame.get_attribute("main", "data-state") == "timeout"
        assert frame.is_visible('section[data-when="timeout"]')
        frame.click('section[data-when="timeout"] button')
        page.wait_for_function("events.filter(e => e.type === 'isLoggedIn').length === 2")
        page.evaluate("window.login()")
        _frame(page).wait_for_selector('main[data-step="form"]')


def test_a_page_of_another_origin_that_opens_the_campaign_is_not_heard(
    browser: OfflineBrowser, player_host: str, account_id: str, site: CustomerSite
) -> None:
    """An evil page opens the campaign (claiming the real parent's origin) and posts it a
    valid `userInfo`: nothing is prefilled and nothing is sent to the evil page. Framed by
    it, the campaign is not even shown (frame-ancestors)."""
    url = (
        f"http://{player_host}/play/{account_id}/{CAMPAIGN}"
        f"?qual_div=campaign&qual_parent={site.origin}"
    )
    message = {"qual": 1, "type": "userInfo", "divId": "campaign", "payload": _token()}
    player_origin = f"http://{player_host}"
    script = f"""
window.opened = window.open({json.dumps(url)}, 'campaign');
window.framed = document.createElement('iframe');
framed.src = {json.dumps(url)};
document.body.appendChild(framed);
setInterval(function () {{
  try {{ opened.postMessage({json.dumps(message)}, {json.dumps(player_origin)}); }} catch (e) {{}}
  try {{ framed.contentWindow.postMessage({json.dumps(message)}, '*'); }} catch (e) {{}}
}}, 200);
"""
    with CustomerSite() as evil:
        evil.pages["/evil.html"] = recorder_page(script)
        with browser.page() as page, page.expect_popup() as popup_info:
            page.goto(f"{evil.origin}/evil.html")
            popup = popup_info.value
            popup.wait_for_selector('main[data-step="waiting"]')
            page.wait_for_timeout(1500)
            assert popup.get_attribute("main", "data-step") == "waiting"
            assert popup.query_selector('input[name="firstname"]') is None
            assert page.evaluate("window.received") == []
            framed = page.frames[1]
            assert framed.query_selector("main[data-step]") is None  # refused by Chromium


def test_a_same_origin_window_that_is_not_the_parent_is_not_heard(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """A sibling frame on the parent's own origin posts a valid `userInfo` to the campaign:
    ignored (not the parent window); the parent's own answer then works."""
    message = {
        "qual": 1,
        "type": "userInfo",
        "divId": "campaign",
        "payload": _token(profile={"firstname": "Sibling"}),
    }
    site.pages["/sibling.html"] = recorder_page(
        f"""setInterval(function () {{
  var frame = window.parent.document.getElementById('campaign_iframe');
  if (frame) {{ frame.contentWindow.postMessage({json.dumps(message)}, '*'); }}
}}, 200);"""
    )
    html = messages_page(
        player_host, account_id, CAMPAIGN, _token(profile={"firstname": "Parent"})
    ).replace("</body>", '<iframe src="/sibling.html"></iframe></body>')
    with _open(browser, site, html) as page:
        _wait_event(page, "isLoggedIn")
        page.wait_for_timeout(1500)
        frame = _frame(page)
        assert frame.get_attribute("main", "data-step") == "waiting"
        page.click("#login")
        frame = _frame(page)
        frame.wait_for_selector('main[data-step="form"]')
        assert frame.input_value('input[name="firstname"]') == "Parent"


def test_the_page_library_hears_only_the_campaign(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """Messages in the protocol's shape from another origin's frame, or from the page
    itself, never reach the page's callbacks."""
    forged = [
        {"qual": 1, "type": "error", "divId": "campaign", "code": "TOKEN_EXPIRED"},
        {"qual": 1, "type": "isLoggedIn", "divId": "campaign"},
    ]
    with CustomerSite() as evil:
        evil.pages["/ad.html"] = recorder_page(
            f"""setInterval(function () {{
  {json.dumps(forged)}.forEach(function (m) {{ window.parent.postMessage(m, '*'); }});
}}, 100);"""
        )
        html = messages_page(player_host, account_id, CAMPAIGN, _token()).replace(
            "</body>", f'<iframe src="{evil.origin}/ad.html"></iframe></body>'
        )
        with _open(browser, site, html) as page:
            _wait_event(page, "isLoggedIn")  # the campaign's own question is heard, once
            page.evaluate(
                f"""{json.dumps(forged)}.forEach(function (m) {{
                  window.postMessage(m, window.location.origin); }})"""
            )
            page.wait_for_timeout(1500)
            assert _events(page, "error") == []
            assert len(_events(page, "isLoggedIn")) == 1


_RECORD_SENDS = """
(() => {
  if (window.location.origin !== %s) { return; }
  const real = window.parent;
  window.__sent = [];
  // window.parent is [Replaceable]: the campaign's script sends through this stand-in.
  window.parent = {
    postMessage(message, targetOrigin) {
      window.__sent.push({type: message && message.type, targetOrigin});
      real.postMessage(message, targetOrigin);
    },
  };
})();
"""


def test_the_campaign_never_sends_to_any_origin(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    vault: Vault,
) -> None:
    """With postMessage overridden in the campaign's pages, every message it sends names the
    parent's exact origin, never '*': the waiting page's questions, its timeout error and
    "Try again" (the stand-in hides the answers, whose source is the real parent), and the
    error of a refused token."""
    PlayerStore(vault).put(account_id, _messages_settings(site, message_wait=1), expected=1)
    record = _RECORD_SENDS % json.dumps(f"http://{player_host}")
    sent: list[dict[str, str]] = []
    html = messages_page(player_host, account_id, CAMPAIGN, _token())
    expired = _token(exp=int(time.time()) - 60)
    refused = html.replace("'100%', '700', ''", f"'100%', '700', 'qual_token={expired}'")
    for markup in (html, refused):
        site.pages["/shop.html"] = markup
        with browser.page() as page:
            page.context.add_init_script(record)
            page.goto(f"{site.origin}/shop.html")
            frame = _frame(page)
            frame.wait_for_function("window.__sent && window.__sent.length >= 1")
            if markup is html:
                frame.wait_for_selector('main[data-state="timeout"]')
                frame.click('section[data-when="timeout"] button')
                frame.wait_for_function("window.__sent.some(s => s.type === 'isLoggedIn')")
            sent += frame.evaluate("window.__sent")
    assert {s["type"] for s in sent} == {"requestParticipantAction", "isLoggedIn", "error"}
    assert {s["targetOrigin"] for s in sent} == {site.origin}


def test_the_page_library_never_sends_the_token_to_a_frame_that_left(
    browser: OfflineBrowser, site: CustomerSite, player_host: str, account_id: str
) -> None:
    """The campaign's iframe navigates to another origin after asking: the page's
    `userInfo` (the participant's token) names the player's origin, so it never arrives."""
    with CustomerSite() as evil:
        evil.pages["/took-over.html"] = recorder_page()
        html = messages_page(player_host, account_id, CAMPAIGN, _token())
        with _open(browser, site, html) as page:
            _wait_event(page, "isLoggedIn")
            page.evaluate(
                "url => { document.getElementById('campaign_iframe').src = url; }",
                f"{evil.origin}/took-over.html",
            )
            _frame(page).wait_for_function("Array.isArray(window.received)")
            page.click("#login")  # sendChildMessage(divId, 'userInfo', token)
            page.wait_for_timeout(1000)
            assert _frame(page).evaluate("window.received") == []


@pytest.mark.parametrize(
    "message",
    [
        "'junk'",
        "null",
        "{qual: 1, type: 'userInfo', payload: TOKEN}",  # no divId
        "{qual: 1, type: 'userInfo', divId: 'other', payload: TOKEN}",
        "{qual: 2, type: 'userInfo', divId: 'campaign', payload: TOKEN}",
        "{qual: 1, type: 'userInfo', divId: 'campaign', payload: 42}",
        "{qual: 1, type: 'userInfo', divId: 'campaign', payload: {token: TOKEN}}",
        "{qual: 1, type: 'userInfo', divId: 'campaign', payload: 'x'.repeat(1024 * 1024)}",
        "{qual: 1, type: 'nonsense', divId: 'campaign', payload: TOKEN}",
    ],
    ids=[
        "string",
        "null",
        "no-div",
        "other-div",
        "other-version",
        "number",
        "object",
        "one-megabyte",
        "unknown-type",
    ],
)
def test_a_malformed_or_huge_message_is_ignored_and_the_page_still_works(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    message: str,
) -> None:
    """The parent's message is not in the protocol's shape (or its JWT is 1 MB): the
    campaign ignores it and keeps waiting; the right answer afterwards still prefills."""
    token = _token(profile={"firstname": "After"})
    html = messages_page(player_host, account_id, CAMPAIGN, token)
    with _open(browser, site, html) as page:
        _wait_event(page, "isLoggedIn")
        page.evaluate(
            f"""() => {{
              const frame = document.getElementById('campaign_iframe');
              frame.contentWindow.postMessage({message}, new URL(frame.src).origin);
            }}"""
        )
        page.wait_for_timeout(700)
        frame = _frame(page)
        assert frame.get_attribute("main", "data-step") == "waiting"
        assert frame.get_attribute("main", "data-state") == "asking"
        page.click("#login")
        frame = _frame(page)
        frame.wait_for_selector('main[data-step="form"]')
        assert frame.input_value('input[name="firstname"]') == "After"
        assert _events(page, "error") == []


def test_a_campaign_of_an_account_without_parent_origins_does_not_speak(
    browser: OfflineBrowser,
    site: CustomerSite,
    player_host: str,
    account_id: str,
    vault: Vault,
) -> None:
    """No parent_origins: the campaign sends nothing (and cannot be framed anyway); opened
    on its own, it says the token is missing."""
    store = PlayerStore(vault)
    store.put(
        account_id,
        PlayerSettings(
            identification="messages", campaigns={CAMPAIGN: Campaign(title="Summer quiz")}
        ),
        expected=1,
    )
    url = f"http://{player_host}/play/{account_id}/{CAMPAIGN}?qual_div=campaign"
    with browser.page() as page:
        page.goto(url)
        assert page.get_attribute("main", "data-step") == "error"
        assert page.get_attribute("main", "data-code") == "TOKEN_EMPTY"
        assert page.query_selector("script[src='/kit/campaign.js']") is None
