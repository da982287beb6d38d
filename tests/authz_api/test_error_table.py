"""The error table maps every OAuth error once, as complete rows; readiness refusals are
rows too; unexpected failures stay 500s without leaking anything; every token response,
even a framework refusal, is no-store."""

from __future__ import annotations

import logging
from typing import Any, get_args

import pytest
from litestar.testing import TestClient

from authz_api.app import create_app
from authz_api.errors import (
    ERROR_TABLE,
    EXCEPTION_HANDLERS,
    HEADER_AUTH,
    NOT_READY,
    HeaderAuthRefused,
    oauth_error_response,
)
from authz_api.schemas import Health
from shared import Settings
from shared.server.oauth_error import OAuthError
from shared.web.health import NotReady
from shared.wire import RETRY_AFTER, OAuthErrorCode

#: The status of each OAuth error (RFC 6749 §5.2; RFC 8628 §3.5 slow_down).
STATUS = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "unauthorized_client": 400,
    "slow_down": 429,
    "temporarily_unavailable": 503,
}


def test_every_error_has_a_status() -> None:
    """Each OAuth error we can raise has exactly one row, with its RFC status and a title."""
    assert set(ERROR_TABLE) == set(get_args(OAuthErrorCode)) == set(STATUS)
    for error, row in ERROR_TABLE.items():
        assert row.status == STATUS[error], error
        assert row.title, error


@pytest.mark.parametrize("error", sorted(ERROR_TABLE))
def test_each_row_is_answered_as_it_says(error: OAuthErrorCode) -> None:
    """Each row's answer has its status, an RFC 6749 body, no-store, no challenge (clients
    authenticate in the body), and Retry-After exactly on 429 and 503: the error's own
    seconds, or the default."""
    row = ERROR_TABLE[error]
    response = oauth_error_response(OAuthError(error, "why", code="X", retry_after=3))
    assert response.status_code == row.status
    assert response.content == {"error": error, "error_description": "why", "code": "X"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response.headers
    assert row.challenge is None
    assert row.retry_after == (row.status in (429, 503))
    assert response.headers.get("Retry-After") == ("3" if row.retry_after else None)
    default = oauth_error_response(OAuthError(error, "why"))
    assert "code" not in default.content
    assert default.headers.get("Retry-After") == (str(RETRY_AFTER) if row.retry_after else None)


@pytest.mark.parametrize(
    ("scheme", "challenge"),
    [
        ("Basic", 'Basic realm="authz-api"'),
        ("basic", 'Basic realm="authz-api"'),
        ("Bearer", 'Bearer realm="authz-api"'),
        ("b@d", 'Basic realm="authz-api"'),
    ],
    ids=["basic", "basic-lower", "other-scheme", "not-a-scheme"],
)
def test_header_auth_row(scheme: str, challenge: str) -> None:
    """A client that authenticated with the Authorization header is 401 invalid_client with
    a challenge in its scheme (RFC 6749 §5.2), no-store, no code; the description names the
    client authentication we support."""
    assert HEADER_AUTH.status == STATUS["invalid_client"] == 401
    assert HEADER_AUTH.challenge == 'Basic realm="authz-api"'
    assert not HEADER_AUTH.retry_after
    response = EXCEPTION_HANDLERS[HeaderAuthRefused](None, HeaderAuthRefused(scheme))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content["error"] == "invalid_client"
    assert "code" not in response.content
    assert "client assertion" in response.content["error_description"]


def test_not_ready_row() -> None:
    """A readiness refusal is a 503 Health body with the reason's code and Retry-After."""
    assert NOT_READY.status == 503
    assert NOT_READY.retry_after
    assert NOT_READY.challenge is None
    handler = EXCEPTION_HANDLERS[NotReady]
    response = handler(None, NotReady("SATURATED", "busy", retry_after=1))
    assert response.status_code == 503
    assert response.content == Health(status="unavailable", code="SATURATED")
    assert response.headers["Retry-After"] == "1"
    default = handler(None, NotReady("VAULT_UNAVAILABLE", "down"))
    assert default.headers["Retry-After"] == str(RETRY_AFTER)


class Exploding:
    """A token service failing in a way no real dependency does (fault injection)."""

    def exchanges_inline(self, params: Any) -> bool:
        return False

    def exchange(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a message that could hold a token eyJhbGciOi")


@pytest.fixture
def client() -> Any:
    app = create_app(
        Settings(
            vault_addr="http://127.0.0.1:1",
            authz_issuer="http://authz.test",
            authz_single_instance=True,
        ),
        overrides={"token_service": Exploding()},
    )
    with TestClient(app) as test_client:
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
