"""Readiness says SATURATED when every worker thread of the API's hot path is taken (both
APIs, real OpenBao; the threads are taken by borrowing the app's own limiter)."""

from __future__ import annotations

from types import ModuleType

import msgspec
import pytest
from litestar.testing import TestClient

import authz_api.app
import crypto_api.app
from shared import Settings
from tests.support.authz import Authz

APPS = [(authz_api.app, "exchange_threads"), (crypto_api.app, "encrypt_threads")]


@pytest.mark.parametrize(("module", "limiter"), APPS, ids=["authz", "crypto"])
def test_ready_is_503_saturated_when_every_worker_thread_is_busy(
    module: ModuleType, limiter: str, settings: Settings, authz_for_crypto: Authz
) -> None:
    """/health/ready answers 200, then 503 SATURATED with Retry-After once every worker
    thread is taken, and 200 again when one is free."""
    app_settings = msgspec.structs.replace(
        settings,
        authz_issuer=authz_for_crypto.issuer,
        authz_jwks_url=f"{authz_for_crypto.url}/.well-known/jwks.json",
        authz_single_instance=True,
    )
    with TestClient(module.create_app(app_settings)) as client:
        assert client.get("/health/ready").status_code == 200
        threads = getattr(client.app.state, limiter)
        holders = [object() for _ in range(int(threads.total_tokens))]
        with client.portal() as portal:
            for holder in holders:
                portal.call(threads.acquire_on_behalf_of_nowait, holder)
            busy = client.get("/health/ready")
            portal.call(threads.release_on_behalf_of, holders[0])
            free = client.get("/health/ready")
            for holder in holders[1:]:
                portal.call(threads.release_on_behalf_of, holder)
    assert busy.status_code == 503, busy.text
    assert busy.json()["code"] == "SATURATED"
    assert busy.headers["Retry-After"]
    assert free.status_code == 200, free.text
