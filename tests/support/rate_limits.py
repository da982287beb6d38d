"""Two instances of each API on one Vault (and one Redis, or none), requests alternated
between them, and what their rate limits let through."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

import player.app
from shared import Settings
from shared.identity import Campaign, PlayerSettings, PlayerStore, ensure_form_keys
from shared.vault import Vault
from tests.support.asgi_server import AsgiServer
from tests.support.authz import Authz, serve
from tests.support.crypto import Crypto, serve_crypto
from tests.support.openbao import free_port

#: The budget every test gives the limit it looks at: a burst of 5, then one every 10 s,
#: so that what a run of a few seconds lets through is the burst, give or take a token,
#: and two bursts (10) stay apart from one even on a slow machine.
RATE, BURST = 0.1, 5
#: Requests per run, alternated between the two instances.
REQUESTS = 16


@dataclass(frozen=True)
class Tally:
    """What a run let through: accepted and refused (429) answers, and its duration."""

    accepted: int
    limited: int
    seconds: float

    def budgets(self, count: int, rate: float = RATE, burst: int = BURST) -> tuple[float, float]:
        """The least and most a run may accept under ``count`` budgets of ``burst`` and
        ``rate`` (the most: each budget's refill over the run, and one token for the
        fraction a bucket may hold)."""
        return count * burst, count * (burst + rate * self.seconds) + 1

    def within(self, count: int, rate: float = RATE, burst: int = BURST) -> bool:
        """Whether the accepted count is that of ``count`` budgets."""
        low, high = self.budgets(count, rate, burst)
        return low <= self.accepted <= high


def alternate(
    send: Callable[[int], httpx.Response], requests: int = REQUESTS, *, passed: int = 200
) -> Tally:
    """Send ``requests`` requests (``send(n)``: even ones to one instance, odd ones to the
    other); every answer must be ``passed`` (the limit let it through) or a 429
    ``RATE_LIMITED`` with Retry-After."""
    accepted = limited = 0
    started = time.monotonic()
    for n in range(requests):
        response = send(n)
        if response.status_code == passed:
            accepted += 1
            continue
        assert response.status_code == 429, response.text
        assert response.json()["code"] == "RATE_LIMITED", response.text
        assert int(response.headers["retry-after"]) >= 1
        limited += 1
    tally = Tally(accepted, limited, time.monotonic() - started)
    print(f"accepted {accepted} of {requests} in {tally.seconds:.2f} s")  # pytest -s: figures
    return tally


@contextmanager
def two_authz(settings: Settings, **overrides: Any) -> Iterator[tuple[Authz, Authz]]:
    """Two Authorization APIs behind one public issuer (a load balancer's)."""
    issuer = f"http://127.0.0.1:{free_port()}"
    with (
        serve(settings, authz_issuer=issuer, **overrides) as one,
        serve(settings, authz_issuer=issuer, **overrides) as two,
    ):
        yield one, two


@contextmanager
def two_crypto(
    settings: Settings, authz: Authz, **overrides: Any
) -> Iterator[tuple[Crypto, Crypto]]:
    """Two Crypto APIs trusting ``authz``."""
    with (
        serve_crypto(settings, authz, **overrides) as one,
        serve_crypto(settings, authz, **overrides) as two,
    ):
        yield one, two


@contextmanager
def two_players(
    settings: Settings, vault: Vault, account_id: str, campaign: str, **overrides: Any
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two players serving the account's ``campaign``, as clients of each."""
    ensure_form_keys(vault)
    PlayerStore(vault).put(
        account_id, PlayerSettings(campaigns={campaign: Campaign(title="Limits")}), expected=0
    )
    app_settings = msgspec.structs.replace(settings, **overrides)
    with ExitStack() as stack:
        clients = []
        for _ in range(2):
            server = stack.enter_context(AsgiServer(player.app.create_app(app_settings)))
            clients.append(stack.enter_context(httpx.Client(base_url=server.url, timeout=10)))
        yield clients[0], clients[1]
