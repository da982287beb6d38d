"""A jwt-bearer exchange of a cached account is checked on the event loop and only awaits
Transit's signature; other exchanges take a worker thread (real OpenBao; the exchange
threads are taken by borrowing the app's own limiter, so a call that needs one waits for
their release)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.testing import TestClient

from authz_api.app import create_app
from shared import Account, Settings
from shared.wire import CLIENT_ASSERTION_TYPE, JWT_BEARER
from tests.support.tokens import claims, sign
from tests.support.worker_threads import threads_taken

HELD = 0.8  # seconds the exchange threads stay taken
ISSUER = "http://authz.inline.test"


def _post(client: TestClient[Any], **params: str) -> tuple[int, float]:
    start = time.monotonic()
    response = client.post("/oauth/token", data=params)
    return response.status_code, time.monotonic() - start


def _assertion(account_id: str) -> str:
    now = int(time.time())
    body = {
        "iss": account_id,
        "sub": account_id,
        "aud": f"{ISSUER}/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    return sign(body, "ES256", "ec-p256")


def test_cached_jwt_bearer_exchange_needs_no_worker_thread(
    settings: Settings, make_account: Callable[..., Account]
) -> None:
    """With every exchange thread taken: a jwt-bearer grant of an account seen before is
    answered at once (and its bearer is a good one); a client_credentials grant (a
    single-use jti to record) waits for a thread."""
    account = make_account()
    app_settings = msgspec.structs.replace(
        settings,
        authz_issuer=ISSUER,
        authz_single_instance=True,
        rate_limit_per_second=0.0,
        jwt_bearer_rate_per_second=0.0,
        assertion_rate_per_second=0.0,
    )

    def jwt_bearer() -> tuple[int, float]:
        return _post(
            client,
            grant_type=JWT_BEARER,
            client_id=account.id,
            assertion=sign(claims(), "ES256", "ec-p256"),
        )

    with TestClient(create_app(app_settings)) as client:
        assert jwt_bearer()[0] == 200  # through a thread: account and keys cached
        with threads_taken(client, "exchange_threads", HELD):
            cached = jwt_bearer()
            waited = _post(
                client,
                grant_type="client_credentials",
                client_assertion_type=CLIENT_ASSERTION_TYPE,
                client_assertion=_assertion(account.id),
            )
    assert cached[0] == 200
    assert cached[1] < HELD / 2, cached
    assert waited[0] == 200
    assert waited[1] >= HELD / 2, waited
