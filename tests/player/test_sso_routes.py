"""Single sign-on (channel 3) over HTTP: the player (real OpenBao, real Redis) and a real
OpenID provider (oidc-provider on Node), the browser's part played by two cookie jars (the
player's and the IdP's). What needs a real browser (the popup, postMessage) is in
tests/browser/test_player_sso.py."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import httpx
import pytest
from litestar.testing import TestClient

from player.app import create_app
from shared.accounts import Account
from shared.identity import PlayerSecretsStore, ensure_form_keys
from shared.identity.sso import IdpHttp, SsoClient
from shared.settings import Settings
from shared.vault import Vault
from tests.support.oidc_provider import OidcProvider, Provider
from tests.support.openbao import free_port
from tests.support.redis_server import RedisServer
from tests.support.sso import BASIC, CAMPAIGN, POST, Client, identity_providers, put_sso_account

CALLBACK = "http://testserver.local/oauth/callback"


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    """The customer's IdP and another provider, started once for the module."""
    with identity_providers(CALLBACK) as provider:
        yield provider


@pytest.fixture
def provider(idp: OidcProvider) -> Provider:
    """The customer's IdP, its recorded token requests forgotten."""
    idp.providers[0].reset()
    return idp.providers[0]


def _fields(settings: Settings) -> dict[str, Any]:
    return {f: getattr(settings, f) for f in settings.__struct_fields__}


@pytest.fixture
def app_settings(settings: Settings, vault: Vault, redis_server: RedisServer) -> Settings:
    ensure_form_keys(vault)
    return Settings(**{**_fields(settings), "redis_url": redis_server.url})


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient[Any]]:
    """The player, its cookie jar the participant's browser's."""
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


@pytest.fixture
def account(
    vault: Vault, make_account: Callable[..., Account], account_id: str
) -> Callable[..., str]:
    """``account(issuer, client=POST, **sso)``: the test's account, signing in at ``issuer``."""
    make_account()

    def make(issuer: str, client: Client = POST, **sso: Any) -> str:
        put_sso_account(vault, account_id, issuer, client, **sso)
        return account_id

    return make


@pytest.fixture
def idp_browser() -> Iterator[httpx.Client]:
    """The participant's browser, at the IdP (its own cookies)."""
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        yield http


def _start(client: TestClient[Any], account_id: str, **query: str) -> httpx.Response:
    url = f"/sso/{account_id}/{CAMPAIGN}"
    return client.get(f"{url}?{urlencode(query)}" if query else url, follow_redirects=False)


def _callback(client: TestClient[Any], url: str) -> httpx.Response:
    return client.get(url, follow_redirects=False)


def _signed_in(
    client: TestClient[Any], idp_browser: httpx.Client, provider: Provider, account_id: str
) -> httpx.Response:
    """The whole flow, top-level: the campaign page the callback sends the window to."""
    start = _start(client, account_id)
    assert start.status_code == 302, start.text
    back = _callback(client, provider.sign_in(idp_browser, start.headers["location"]))
    assert back.status_code == 303, back.text
    return client.get(back.headers["location"])


def _code(html: str) -> str | None:
    found = re.search(r'data-code="([A-Z_]+)"', html)
    return found.group(1) if found else None


def _value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def _with(url: str, **changes: str | None) -> str:
    """``url`` with some query parameters replaced (None: removed)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize(
    ("source", "scope"),
    [
        ("userinfo", "openid profile email"),
        ("id_token", "openid profile email"),
        ("access_token", "openid profile email player"),
    ],
)
def test_each_profile_source_prefills_the_form(
    client: TestClient[Any],
    idp_browser: httpx.Client,
    provider: Provider,
    account: Callable[..., str],
    source: str,
    scope: str,
) -> None:
    """Signed in at the IdP, the participant lands on the form prefilled from the configured
    source (userinfo, the verified ID token, the verified JWT access token), the OpenID
    claims and the account's own mapping (``nickname`` -> ``pseudo``)."""
    account_id = account(
        provider.issuer, profile_source=source, scope=scope, prefill={"nickname": "pseudo"}
    )
    page = _signed_in(client, idp_browser, provider, account_id)
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-step="form"' in html
    assert _value(html, "firstname") == "Ada"
    assert _value(html, "lastname") == "Lovelace"
    assert _value(html, "email") == "ada@example.com"
    assert _value(html, "birthdate") == "1990-12-10"
    assert _value(html, "pseudo") == "countess"
    # The form is a real one: it is taken once.
    form = {"form_token": _value(html, "form_token"), "firstname": "Ada"}
    sent = client.post(
        f"/play/{account_id}/{CAMPAIGN}/participations",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 'data-step="thanks"' in sent.text, sent.text


def test_the_authorization_request_and_the_cookie(
    client: TestClient[Any], provider: Provider, account: Callable[..., str]
) -> None:
    """The redirect carries client_id, the exact redirect_uri, the scope, a fresh state, a
    PKCE S256 challenge and a nonce; the browser gets an HttpOnly, SameSite=Lax cookie."""
    account_id = account(provider.issuer)
    first, second = _start(client, account_id), _start(client, account_id)
    url = urlsplit(first.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.issuer}/auth"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["client_id"] == POST.id
    assert query["redirect_uri"] == CALLBACK
    assert query["response_type"] == "code"
    assert query["scope"] == "openid profile email"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) == 43
    assert len(query["nonce"]) == 43
    again = {k: v[0] for k, v in parse_qs(urlsplit(second.headers["location"]).query).items()}
    assert again["state"] != query["state"]
    assert again["nonce"] != query["nonce"]
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("player_sso=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Path=/;" in cookie
    assert "Secure" not in cookie  # loopback http; over https it is Secure
    assert "Max-Age=600" in cookie
    # The second sign-in kept the browser's binding (two tabs do not undo each other).
    assert second.cookies["player_sso"] == first.cookies["player_sso"]


def test_pkce_off_sends_no_challenge(
    client: TestClient[Any], provider: Provider, account: Callable[..., str]
) -> None:
    """``pkce: false`` sends no challenge (an IdP requiring PKCE then refuses: its choice)."""
    account_id = account(provider.issuer, pkce=False)
    query = parse_qs(urlsplit(_start(client, account_id).headers["location"]).query)
    assert "code_challenge" not in query


@pytest.mark.parametrize("client_kind", [POST, BASIC], ids=["post", "basic"])
def test_the_client_authentication_on_the_wire(
    client: TestClient[Any],
    idp_browser: httpx.Client,
    provider: Provider,
    account: Callable[..., str],
    client_kind: Client,
) -> None:
    """What reached the token endpoint: client_secret_post puts id and secret in the body
    and no Authorization header; client_secret_basic sends Basic base64(form-encoded id ':'
    form-encoded secret) (RFC 6749 §2.3.1, with an id and a secret full of ':', '+', '%')
    and no secret in the body. Both carry the code and the PKCE verifier."""
    account_id = account(provider.issuer, client_kind)
    page = _signed_in(client, idp_browser, provider, account_id)
    assert 'data-step="form"' in page.text, page.text
    (request,) = provider.token_requests()
    params = request["params"]
    assert params["grant_type"] == "authorization_code"
    assert params["redirect_uri"] == CALLBACK
    assert len(params["code_verifier"]) == 64
    assert request["status"] == 200
    if client_kind is POST:
        assert request["authorization"] is None
        assert params["client_id"] == POST.id
        assert params["client_secret"] == POST.secret
    else:
        encoded = f"{quote_plus(BASIC.id, safe='')}:{quote_plus(BASIC.secret, safe='')}"
        assert request["authorization"] == "Basic " + base64.b64encode(encoded.encode()).decode()
        assert ":" in BASIC.secret  # unencoded, it would split the pair in the wrong place
        assert "client_secret" not in params


def test_a_replayed_forged_or_foreign_state_is_refused(
    client: TestClient[Any],
    idp_browser: httpx.Client,
    provider: Provider,
    account: Callable[..., str],
    app_settings: Settings,
) -> None:
    """The callback's state is single use, must exist, and must come back to the browser
    that started it (its cookie): SSO_STATE_INVALID otherwise, and no token request."""
    account_id = account(provider.issuer)
    start = _start(client, account_id)
    back = provider.sign_in(idp_browser, start.headers["location"])
    with TestClient(create_app(app_settings)) as other_browser:
        foreign = _callback(other_browser, back)
    assert foreign.status_code == 400
    assert _code(foreign.text) == "SSO_STATE_INVALID"
    # Spent by that attempt: the owner cannot use it either (no second chance to guess).
    assert _code(_callback(client, back).text) == "SSO_STATE_INVALID"
    forged = _callback(client, _with(back, state="A" * 43))
    assert _code(forged.text) == "SSO_STATE_INVALID"
    assert _code(_callback(client, _with(back, state=None)).text) == "SSO_STATE_INVALID"
    assert provider.token_requests() == []
    # A good one, then the same answer again.
    start = _start(client, account_id)
    back = provider.sign_in(idp_browser, start.headers["location"])
    assert _callback(client, back).status_code == 303
    replayed = _callback(client, back)
    assert replayed.status_code == 400
    assert _code(replayed.text) == "SSO_STATE_INVALID"
    assert 'data-step="error"' in replayed.text


def test_a_code_redeemed_twice_fails_cleanly(
    client: TestClient[Any],
    idp_browser: httpx.Client,
    provider: Provider,
    account: Callable[..., str],
) -> None:
    """A code already redeemed, brought back with another sign-in's state, is refused by the
    IdP (invalid_grant): the error screen SSO_FAILED, a 502, no 500."""
    account_id = account(provider.issuer)
    first = _start(client, account_id)
    second = _start(client, account_id)
    back = provider.sign_in(idp_browser, first.headers["location"])
    assert _callback(client, back).status_code == 303
    state = parse_qs(urlsplit(second.headers["location"]).query)["state"][0]
    again = _callback(client, _with(back, state=state))
    assert again.status_code == 502
    assert _code(again.text) == "SSO_FAILED"
    assert [r["status"] for r in provider.token_requests()] == [200, 400]


def test_a_mix_up_is_refused(
    client: TestClient[Any],
    idp_browser: httpx.Client,
    idp: OidcProvider,
    provider: Provider,
    account: Callable[..., str],
) -> None:
    """An answer naming another provider's issuer (RFC 9207), or none although this IdP
    advertises it always does, is SSO_ISSUER_MISMATCH; the code is never sent anywhere."""
    account_id = account(provider.issuer)
    other = idp.providers[1].issuer
    for iss in (other, None):
        start = _start(client, account_id)
        back = provider.sign_in(idp_browser, start.headers["location"])
        answer = _callback(client, _with(back, iss=iss))
        assert answer.status_code == 400
        assert _code(answer.text) == "SSO_ISSUER_MISMATCH"
    assert provider.token_requests() == []


def test_a_refused_consent_shows_its_screen(
    client: TestClient[Any],
    idp_browser: httpx.Client,
    provider: Provider,
    account: Callable[..., str],
) -> None:
    """Cancelling at the IdP (access_denied) is SSO_DENIED, a 403 screen with a sentence."""
    account_id = account(provider.issuer)
    start = _start(client, account_id)
    back = provider.sign_in(idp_browser, start.headers["location"], consent=False)
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]
    answer = _callback(client, back)
    assert answer.status_code == 403
    assert _code(answer.text) == "SSO_DENIED"
    assert "cancelled or refused" in answer.text


def test_a_down_or_slow_idp_is_a_retryable_screen(
    app_settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    idp_browser: httpx.Client,
    provider: Provider,
    account: Callable[..., str],
) -> None:
    """An IdP nobody answers at is SSO_UNAVAILABLE at once (503, Retry-After); a token
    endpoint slower than the deadline is SSO_UNAVAILABLE within the deadline, never a hang."""
    account_id = account(provider.issuer)
    down_id = make_account(id=f"{account_id}-down").id
    put_sso_account(vault, down_id, f"http://127.0.0.1:{free_port()}")
    sso = SsoClient(app_settings.redis_url, PlayerSecretsStore(vault), http=IdpHttp(deadline=1.0))
    with TestClient(create_app(app_settings, overrides={"sso": sso})) as client:
        down = _start(client, down_id)
        assert down.status_code == 503
        assert _code(down.text) == "SSO_UNAVAILABLE"
        assert int(down.headers["retry-after"]) >= 1
        assert 'data-retryable="true"' in down.text
        start = _start(client, account_id)
        back = provider.sign_in(idp_browser, start.headers["location"])
        provider.delay(3)
        began = time.monotonic()
        slow = _callback(client, back)
        took = time.monotonic() - began
    assert slow.status_code == 503
    assert _code(slow.text) == "SSO_UNAVAILABLE"
    assert took < 2.5


def test_a_popup_result_is_single_use_and_for_its_campaign(
    client: TestClient[Any],
    idp_browser: httpx.Client,
    provider: Provider,
    account: Callable[..., str],
    make_account: Callable[..., Account],
    vault: Vault,
) -> None:
    """In a popup the callback renders the page handing a result id to the frame (framed
    nowhere, no form in it); the campaign page takes it once, and only for its campaign
    (another account's campaign refuses it, and it is spent)."""
    account_id = account(provider.issuer)
    other_id = make_account(id=f"{account_id}-other").id
    put_sso_account(vault, other_id, provider.issuer)

    def popup_result() -> str:
        start = _start(client, account_id, popup="1")
        done = _callback(client, provider.sign_in(idp_browser, start.headers["location"]))
        assert done.status_code == 200
        assert 'data-step="sso-done"' in done.text
        assert "form_token" not in done.text
        assert "frame-ancestors 'none'" in done.headers["content-security-policy"]
        found = re.search(r'data-sso-result="([^"]+)"', done.text)
        assert found
        return found.group(1)

    at = f"/play/{account_id}/{CAMPAIGN}"
    stolen = popup_result()
    elsewhere = client.get(f"/play/{other_id}/{CAMPAIGN}", params={"sso_result": stolen})
    assert elsewhere.status_code == 400
    assert _code(elsewhere.text) == "SSO_STATE_INVALID"
    assert _code(client.get(at, params={"sso_result": stolen}).text) == "SSO_STATE_INVALID"
    result = popup_result()
    first = client.get(at, params={"sso_result": result})
    assert 'data-step="form"' in first.text
    assert _value(first.text, "firstname") == "Ada"
    again = client.get(at, params={"sso_result": result})
    assert again.status_code == 400
    assert _code(again.text) == "SSO_STATE_INVALID"
