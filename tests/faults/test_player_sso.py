"""The customer's identity provider (the real oidc-provider) hung, then killed and started
again, while participants start sign-ins and open campaign pages.

Expected (docs/player.md, single sign-on: refusals and bounds): a sign-in whose callback
needs the IdP (the code is redeemed at its token endpoint) gets the error screen
``SSO_UNAVAILABLE`` 503 + Retry-After: within the IdP bounds (3 s read timeout, 5 s
deadline) when it hangs, at once when it is down; never a 500, never a hang. The state is
spent even so (sent again: ``SSO_STATE_INVALID`` 400). Starting a sign-in needs only the
discovery document, cached (and served stale) by a player that read it before: 302
throughout; a player that never read it says ``SSO_UNAVAILABLE``. Pages with a secure
token never need the IdP: 200 throughout. Once the IdP is back, sign-ins work again; a
code the restarted IdP forgot is ``SSO_FAILED`` 502 (the code refused).
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable

import httpx

from shared.accounts import Account
from shared.identity import ensure_form_keys
from shared.settings import Settings
from shared.vault import Vault
from tests.support.faults.load import Load, check_answers, describe
from tests.support.faults.player import CAMPAIGN, Participants, page_code, serve_player
from tests.support.oidc_provider import OidcProvider, Provider
from tests.support.openbao import free_port
from tests.support.redis_server import RedisServer
from tests.support.sso import identity_providers, put_sso_account

#: The IdP's bounds in the player (shared.identity.sso.IdpHttp): read timeout, deadline.
READ_TIMEOUT = 3.0
DEADLINE = 5.0
HUNG_BOUND = DEADLINE + 1.0


class SignIn:
    """One participant's sign-in: the player's cookies, and the callback URL the IdP sent
    the browser back with (code and state), not yet followed."""

    def __init__(self, url: str, account: str, provider: Provider, idp_browser: httpx.Client):
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=15)
        start = self.http.get(f"/sso/{account}/{CAMPAIGN}")
        assert start.status_code == 302, start.text
        self.callback = provider.sign_in(idp_browser, start.headers["location"])
        assert "code=" in self.callback, self.callback

    def finish(self) -> tuple[httpx.Response, float]:
        """Follow the callback; its answer and how long it took."""
        sent = time.monotonic()
        answer = self.http.get(self.callback)
        return answer, time.monotonic() - sent

    def campaign_page(self, answer: httpx.Response) -> httpx.Response:
        """The page a successful callback sends the browser to."""
        assert answer.status_code == 303, answer.text
        return self.http.get(answer.headers["location"])


def _process(idp: OidcProvider) -> subprocess.Popen[str]:
    # The provider's Node process, to freeze it (the helper only starts and stops it).
    process = idp._process
    assert process is not None
    return process


def _refused(answer: httpx.Response, status: int, code: str) -> bool:
    return answer.status_code == status and page_code(answer.text) == code


def test_identity_provider_hung_then_down(
    settings: Settings,
    vault: Vault,
    make_account: Callable[..., Account],
    redis_server: RedisServer,
) -> None:
    """The IdP frozen (SIGSTOP) 7 s, then killed 3 s and started again, under load of
    sign-in starts and token pages: callbacks SSO_UNAVAILABLE 503 + Retry-After (within
    the deadline, then at once), a cold player's start too; starts 302 and pages 200
    throughout; sign-ins succeed once it is back."""
    ensure_form_keys(vault)
    account = make_account().id
    port = free_port()
    participants = Participants(account)
    with (
        identity_providers(f"http://127.0.0.1:{port}/oauth/callback") as idp,
        serve_player(settings, redis_server.url, port=port) as url,
        httpx.Client(follow_redirects=False, timeout=10) as idp_browser,
    ):
        provider = idp.providers[0]
        put_sso_account(vault, account, provider.issuer)
        warm = SignIn(url, account, provider, idp_browser)
        first, _ = warm.finish()
        assert 'data-step="form"' in warm.campaign_page(first).text
        waiting = [SignIn(url, account, provider, idp_browser) for _ in range(6)]

        def start(http: httpx.Client) -> httpx.Response:
            return http.get(f"/sso/{account}/{CAMPAIGN}")

        requests = [("start", start), *participants.requests("page", "identify")]
        with Load(url, requests, clients=4, pause=0.05) as load:
            origin = time.monotonic()
            time.sleep(0.5)

            # Hung: connections accepted by the kernel, never answered.
            _process(idp).send_signal(signal.SIGSTOP)
            frozen = time.monotonic()
            hung: list[tuple[httpx.Response, float]] = []
            finishing = [
                threading.Thread(target=lambda s=s: hung.append(s.finish())) for s in waiting[:2]
            ]
            for thread in finishing:
                thread.start()
            for thread in finishing:
                thread.join(timeout=30)
            time.sleep(max(0.0, frozen + 7.0 - time.monotonic()))
            _process(idp).send_signal(signal.SIGCONT)
            after_hang, _ = waiting[2].finish()
            after_hang_page = waiting[2].campaign_page(after_hang)
            again, _ = waiting[0].finish()  # the state was spent by the refused callback

            # Down: refused at once; a player that never read the discovery cannot start.
            idp.__exit__(None, None, None)
            down = [s.finish() for s in waiting[3:5]]
            with (
                serve_player(settings, redis_server.url) as cold_url,
                httpx.Client(base_url=cold_url, follow_redirects=False, timeout=15) as cold,
            ):
                cold_start = cold.get(f"/sso/{account}/{CAMPAIGN}")
            time.sleep(1.0)
            idp.__enter__()
            back = time.monotonic()
            forgotten, _ = waiting[5].finish()
            fresh = SignIn(url, account, provider, idp_browser)
            fresh_answer, _ = fresh.finish()
            fresh_page = fresh.campaign_page(fresh_answer)
            signed_in_again = time.monotonic() - back
            time.sleep(0.5)
            calls = load.stop()
        for sign_in in (warm, *waiting, fresh):
            sign_in.http.close()

    summary = describe(calls, origin)
    print(summary)  # the figures: pytest -rP tests/faults/test_player_sso.py
    assert check_answers([c for c in calls if c.kind != "start"]) == [], summary
    assert {c.status for c in calls if c.kind == "start"} == {302}, summary
    assert {c.status for c in calls if c.kind != "start"} == {200}, summary
    # The IdP never held anyone up (waiting for it takes the 3 s read timeout).
    assert max(c.seconds for c in calls) < READ_TIMEOUT - 0.5, summary

    assert len(hung) == 2
    for answer, seconds in hung:
        assert _refused(answer, 503, "SSO_UNAVAILABLE"), answer.text
        assert answer.headers["retry-after"].isdigit()
        assert READ_TIMEOUT - 0.2 < seconds < HUNG_BOUND, seconds
    assert 'data-step="form"' in after_hang_page.text
    assert _refused(again, 400, "SSO_STATE_INVALID"), again.text
    for answer, seconds in down:
        assert _refused(answer, 503, "SSO_UNAVAILABLE"), answer.text
        assert answer.headers["retry-after"].isdigit()
        assert seconds < 1.0, seconds
    assert _refused(cold_start, 503, "SSO_UNAVAILABLE"), cold_start.text
    assert cold_start.headers["retry-after"].isdigit()
    assert _refused(forgotten, 502, "SSO_FAILED"), forgotten.text
    assert 'data-step="form"' in fresh_page.text
    assert re.search(r'name="email" value="ada@example.com"', fresh_page.text)
    print(
        "hung IdP: callbacks 503 after "
        + ", ".join(f"{s:.2f}" for _, s in hung)
        + " s; down: 503 after "
        + ", ".join(f"{s:.2f}" for _, s in down)
        + f" s; signed in again {signed_in_again:.2f} s after the restart"
    )
