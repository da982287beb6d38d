"""The Crypto API and the real Authorization API over real HTTP, on the session OpenBao."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import pytest

from crypto_api.app import create_app
from shared import Settings
from tests.asgi_server import AsgiServer
from tests.authz_api.conftest import Authz, serve
from tests.openbao import free_port
from tests.tokens import claims, sign


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
        with client.http:  # closed however the test ends
            yield client


@pytest.fixture(scope="module")
def crypto(settings: Settings, vault: object) -> Iterator[Crypto]:
    """One Crypto API for the module and the Authorization API it trusts (rate limits off)."""
    with (
        serve(settings, rate_limit_per_second=0.0) as authz,
        serve_crypto(settings, authz, crypto_rate_per_second=0.0) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def authz_for_crypto(crypto: Crypto) -> Authz:
    """The Authorization API the module's Crypto APIs trust."""
    return crypto.authz


@pytest.fixture
def make_crypto(settings: Settings, authz_for_crypto: Authz) -> Callable[..., Any]:
    """Another Crypto API with other settings: ``with make_crypto(cache_ttl=1) as c: ...``"""
    return lambda **overrides: serve_crypto(settings, authz_for_crypto, **overrides)


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
