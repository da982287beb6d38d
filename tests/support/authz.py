"""The Authorization API served over real HTTP (uvicorn), and checks of its OAuth errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec

from authz_api.app import create_app
from shared import Settings
from shared.wire import CLIENT_ASSERTION_TYPE, JWT_BEARER
from tests.support.asgi_server import AsgiServer
from tests.support.openbao import free_port
from tests.support.tokens import claims, sign


class Authz:
    """A running Authorization API and a client for it."""

    def __init__(self, url: str, issuer: str | None = None) -> None:
        self.url = url
        #: The public issuer; behind a load balancer several instances share one.
        self.issuer = issuer or url
        self.token_endpoint = f"{self.issuer}/oauth/token"
        self.http = httpx.Client(base_url=url, timeout=10)

    def token(self, **params: str) -> httpx.Response:
        """POST /oauth/token with form parameters."""
        return self.http.post("/oauth/token", data=params)

    def jwt_bearer(self, account_id: str, assertion: str) -> httpx.Response:
        return self.token(grant_type=JWT_BEARER, client_id=account_id, assertion=assertion)

    def client_credentials(self, assertion: str, **extra: str) -> httpx.Response:
        return self.token(
            grant_type="client_credentials",
            client_assertion_type=CLIENT_ASSERTION_TYPE,
            client_assertion=assertion,
            **extra,
        )

    def client_assertion(
        self,
        account_id: str,
        alg: str,
        key: Any,
        *,
        lifetime: int = 60,
        kid: str | None = None,
        **overrides: Any,
    ) -> str:
        """A fresh RFC 7523 client assertion signed like the customer would; a claim
        overridden with None is left out."""
        now = int(time.time())
        body = {
            "iss": account_id,
            "sub": account_id,
            "aud": self.token_endpoint,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            **overrides,
        }
        header = {"kid": kid} if kid else {}
        return sign({k: v for k, v in body.items() if v is not None}, alg, key, **header)

    def secure_token(self, alg: str, key: Any, **extra: Any) -> str:
        kid = extra.pop("kid", None)
        return sign(claims(**extra), alg, key, **({"kid": kid} if kid else {}))


@contextmanager
def serve(settings: Settings, **overrides: Any) -> Iterator[Authz]:
    """Run an Authorization API with ``settings`` (+ overrides) on a free port.

    ``rate_limit_per_second=0`` turns off every token-endpoint budget (client_credentials,
    jwt-bearer per account and per assertion) unless those are given too: the tests that
    pass it want rate limits out of the way. Without ``redis_url`` the app is told it is
    the only instance (``authz_single_instance``).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    overrides.setdefault("authz_issuer", url)
    # One instance per call; tests of several instances share a Redis (redis_url).
    overrides.setdefault("authz_single_instance", not overrides.get("redis_url"))
    if overrides.get("rate_limit_per_second") == 0:
        overrides.setdefault("jwt_bearer_rate_per_second", 0.0)
        overrides.setdefault("assertion_rate_per_second", 0.0)
    app_settings = msgspec.structs.replace(settings, **overrides)
    with AsgiServer(create_app(app_settings), port=port):
        client = Authz(url, overrides["authz_issuer"])
        try:
            yield client
        finally:
            client.http.close()


def assert_oauth_error(
    response: httpx.Response, status: int, error: str, code: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 6749 §5.2 error with ``status``, ``error`` and our ``code``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert body["error_description"]
    if code is not None:
        assert body.get("code") == code, body
    assert response.headers["cache-control"] == "no-store"
    return body
