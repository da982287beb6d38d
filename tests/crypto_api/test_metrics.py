"""/metrics is unauthenticated (a Prometheus scrape target), so it must say nothing about
accounts or tokens and its size must not grow with what clients send."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from shared import Account
from shared.web.docs_assets import ASSETS
from shared.web.docs_pages import ASSETS_PATH
from tests.support.crypto import Crypto


def _crypto_lines(text: str) -> list[str]:
    # The registry is per process: the tests' Authorization API reports into it too.
    return [line for line in text.splitlines() if 'app_name="crypto_api"' in line]


def _series(text: str) -> set[str]:
    return {line.split(" ")[0] for line in _crypto_lines(text)}


def test_metrics_name_no_account_token_or_unknown_path(
    crypto: Crypto, make_account: Callable[..., Account]
) -> None:
    """Paths are route templates; unknown paths, account ids and bearers never appear, and
    a flood of distinct ids and paths adds no series."""
    account = make_account()
    crypto.http.get(f"/v1/accounts/{account.id}/jwks.json")

    def probe(value: str) -> None:
        crypto.http.get(f"/v1/accounts/acct-{value}/jwks.json")
        crypto.http.get(f"/{value}")
        crypto.http.post(
            "/v1/encrypt", json={"token": "a.b.c"}, headers={"Authorization": f"Bearer {value}"}
        )

    probe("warm-up")  # each status seen once, and /metrics scraped once
    # The key sets' per-address limit (burst 20) answers 429 sooner or later in the probes,
    # depending on their speed: seen here first, so that the probes add no status.
    statuses = {
        crypto.http.get("/v1/accounts/acct-warm-up/jwks.json").status_code for _ in range(30)
    }
    assert 429 in statuses
    crypto.http.get("/metrics")
    before = _series(crypto.http.get("/metrics").text)
    probes = [uuid.uuid4().hex for _ in range(50)]
    for value in probes:
        probe(value)
    text = crypto.http.get("/metrics").text
    assert _series(text) == before
    assert account.id not in text
    assert not any(probe in text for probe in probes)
    paths = set(re.findall(r'path="([^"]*)"', "\n".join(_crypto_lines(text))))
    assert paths <= {
        "/v1/accounts/{account_id}/jwks.json",
        "/v1/encrypt",
        "/v1/encrypt/batch",
        "/metrics",
        "/health/live",
        "/health/ready",
        # The docs pages and their assets: fixed routes (no path parameter), one per file.
        "/schema",
        "/schema/swagger",
        "/schema/openapi.json",
        *(f"/schema{ASSETS_PATH}/{name}" for name in ASSETS),
    }, paths
