"""The Crypto API over real HTTP, trusting a real Authorization API, and checks of its
problem answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec

from crypto_api.app import create_app
from shared import Settings
from tests.support.asgi_server import AsgiServer
from tests.support.authz import Authz
from tests.support.openbao import free_port
from tests.support.tokens import claims, sign


class Crypto:
    """A running Crypto API, the Authorization API it trusts, and helpers."""

    def __init__(self, url: str, authz: Authz) -> None:
        self.url = url
        self.authz = authz
        self.http = httpx.Client(base_url=url, timeout=30)

    def bearer(self, account_id: str, alg: str = "ES256", key: Any = "ec-p256") -> str:
        """A bearer for ``account_id`` from the real Authorization API (jwt-bearer grant)."""
        response = self.authz.jwt_bearer(account_id, sign(claims(), alg, key))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def encrypt(self, bearer: str | None, token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return self.http.post("/v1/encrypt", json={"token": token}, headers=headers)

    def batch(self, bearer: str, tokens: list[str]) -> httpx.Response:
        return self.http.post(
            "/v1/encrypt/batch",
            json={"tokens": tokens},
            headers={"Authorization": f"Bearer {bearer}"},
        )


@contextmanager
def serve_crypto(settings: Settings, authz: Authz, **overrides: Any) -> Iterator[Crypto]:
    """Run a Crypto API trusting ``authz`` on a free port."""
    port = free_port()
    app_settings = msgspec.structs.replace(
        settings,
        authz_issuer=authz.issuer,
        authz_jwks_url=f"{authz.url}/.well-known/jwks.json",
        **overrides,
    )
    with AsgiServer(create_app(app_settings), port=port):
        client = Crypto(f"http://127.0.0.1:{port}", authz)
        try:
            yield client
        finally:
            client.http.close()


def served_crypto_env(settings: Settings, authz: Authz) -> dict[str, str]:
    """The environment of a ``tokenctl serve crypto`` process trusting ``authz`` on the
    test OpenBao, rate limit off (the tests that need real worker processes)."""
    return {
        "VAULT_ADDR": settings.vault_addr,
        "VAULT_TOKEN": settings.vault_token or "",
        "AUTHZ_ISSUER": authz.issuer,
        "AUTHZ_JWKS_URL": f"{authz.url}/.well-known/jwks.json",
        "CRYPTO_RATE_LIMIT_PER_SECOND": "0",
        "CRYPTO_BATCH_RATE_LIMIT_PER_SECOND": "0",
    }


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with ``status`` and our ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["title"]
    assert body["detail"]
    return body
