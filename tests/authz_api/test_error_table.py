"""The error table maps every OAuth error once; unexpected failures stay 500s without
leaking anything; every token response, even a framework refusal, is no-store."""

from __future__ import annotations

import logging
from typing import Any, get_args

import pytest
from litestar.testing import TestClient

from authz_api.app import create_app
from authz_api.errors import STATUS_FOR_ERROR, oauth_error_response
from shared import Settings
from shared.server.token_service import OAuthError
from shared.wire import OAuthErrorCode


def test_every_error_has_a_status() -> None:
    """Each OAuth error we can raise has exactly one status, and its body follows RFC 6749."""
    assert set(STATUS_FOR_ERROR) == set(get_args(OAuthErrorCode))
    for error, status in STATUS_FOR_ERROR.items():
        response = oauth_error_response(OAuthError(error, "why", code="X", retry_after=3))
        assert response.status_code == status
        assert response.content == {"error": error, "error_description": "why", "code": "X"}
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Retry-After"] == "3"


class Exploding:
    """A token service failing in a way no real dependency does (fault injection)."""

    def exchange(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a message that could hold a token eyJhbGciOi")


@pytest.fixture
def client() -> Any:
    app = create_app(
        Settings(
            vault_addr="http://127.0.0.1:1",
            authz_issuer="http://authz.test",
            authz_single_instance=True,
        )
    )
    with TestClient(app) as test_client:
        app.state.token_service = Exploding()
        yield test_client


def test_unexpected_error_is_a_clean_500(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected failure answers 500 server_error (no-store) and is logged with where it
    happened (file:line frames), never with its message."""
    with caplog.at_level(logging.ERROR):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert response.headers["cache-control"] == "no-store"
    record = next(r for r in caplog.records if r.name == "authz_api")
    assert record.exc_type == "RuntimeError"  # type: ignore[attr-defined]
    assert any("test_error_table.py" in f for f in record.frames)  # type: ignore[attr-defined]
    assert "eyJhbGciOi" not in caplog.text


@pytest.mark.parametrize(("method", "status"), [("GET", 405), ("PUT", 405)], ids=["get", "put"])
def test_framework_refusals_are_no_store(client: Any, method: str, status: int) -> None:
    """A wrong method on the token endpoint is refused in the same JSON shape, no-store."""
    response = client.request(method, "/oauth/token")
    assert response.status_code == status
    assert response.json()["error"] == "invalid_request"
    assert response.headers["cache-control"] == "no-store"
