"""A cached encrypt is served on the event loop; what needs Vault or a JWKS fetch goes to a
worker thread (real OpenBao, the real Authorization API; the worker threads are taken by
borrowing the app's own limiter, so a call that needs one waits for their release)."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
from litestar.testing import TestClient

from crypto_api.app import create_app
from shared import Account, Settings
from tests.support.crypto import Crypto
from tests.support.tokens import claims, sign
from tests.support.worker_threads import threads_taken

HELD = 0.8  # seconds the worker threads stay taken


def _encrypt(client: TestClient, bearer: str) -> tuple[int, float]:
    start = time.monotonic()
    response = client.post(
        "/v1/encrypt",
        json={"token": sign(claims(), "ES256", "ec-p256")},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    return response.status_code, time.monotonic() - start


def test_cached_encrypt_needs_no_worker_thread(
    settings: Settings, crypto: Crypto, make_account: Callable[..., Account]
) -> None:
    """With every encrypt thread taken: a bearer seen before, for a cached account, is
    answered at once; a new bearer (a signature to check, maybe a JWKS fetch) waits for a
    thread."""
    account = make_account()
    known, new = crypto.bearer(account.id), crypto.bearer(account.id)
    app_settings = msgspec.structs.replace(
        settings,
        authz_issuer=crypto.authz.issuer,
        authz_jwks_url=f"{crypto.authz.url}/.well-known/jwks.json",
        crypto_rate_per_second=0.0,
    )
    with TestClient(create_app(app_settings)) as client:
        assert _encrypt(client, known)[0] == 200  # through a thread: caches warmed
        with threads_taken(client, "encrypt_threads", HELD):
            cached = _encrypt(client, known)
            waited = _encrypt(client, new)
    assert cached[0] == 200
    assert cached[1] < HELD / 2, cached
    assert waited[0] == 200
    assert waited[1] >= HELD / 2, waited
