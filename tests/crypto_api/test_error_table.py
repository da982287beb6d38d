"""The Crypto API's error table is complete data: every row is reachable and answered as it
says (status, title, challenge, Retry-After, an RFC 9457 body); every error class the app
loads lands on the row it should; a disabled account's 403 never claims insufficient_scope;
unexpected failures stay 500s without leaking anything."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

import crypto_api.app
import shared
from crypto_api.errors import ERROR_TABLE, EXCEPTION_HANDLERS, RequestInvalid, RequestTooLarge
from shared import Settings
from shared.errors import (
    AccountDisabled,
    AccountNotFound,
    JwksRefused,
    JwksUnavailable,
    RateLimited,
    ServiceError,
    TokenError,
    VerificationUnavailable,
)
from shared.server.bearer_check import BearerInvalid, BearerMissing, BearerScopeMissing
from shared.web.error_table import ErrorRow
from shared.web.health import NotReady
from shared.wire import RETRY_AFTER

REALM = 'Bearer realm="crypto-api"'
#: What each kind of error is answered with: (status, title, WWW-Authenticate). The first
#: class of an error's MRO found here applies; an error of no listed class is a 503 when
#: retryable, else a 500 (what the table must give them too).
EXPECTED: dict[type[Exception], tuple[int, str, str | None]] = {
    BearerMissing: (401, "Bearer token refused", REALM),
    BearerInvalid: (401, "Bearer token refused", f'{REALM}, error="invalid_token"'),
    BearerScopeMissing: (
        403,
        "Bearer lacks the needed scope",
        f'{REALM}, error="insufficient_scope", scope="token:encrypt"',
    ),
    AccountDisabled: (403, "Account disabled", REALM),
    RateLimited: (429, "Too many requests", None),
    VerificationUnavailable: (503, "Temporarily unavailable", None),
    JwksRefused: (422, "Account's JWKS endpoint refused", None),
    TokenError: (422, "Token refused", None),
    AccountNotFound: (404, "No such account", None),
    JwksUnavailable: (503, "Temporarily unavailable", None),
    RequestTooLarge: (413, "Content too large", None),
    RequestInvalid: (400, "Invalid request", None),
    NotReady: (503, "Not ready", None),
}


# Every error class of shared/, whatever other tests happened to import first.
for _module in pkgutil.walk_packages(shared.__path__, "shared."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)


def _subclasses(kind: type[Exception]) -> Iterator[type[Exception]]:
    for sub in kind.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _expected(kind: type[Exception]) -> tuple[int, str, str | None]:
    for ancestor in kind.__mro__:
        if ancestor in EXPECTED:
            return EXPECTED[ancestor]
    if getattr(kind, "retryable", False):
        return (503, "Temporarily unavailable", None)
    return (500, "Error", None)


def _row_index(kind: type[Exception]) -> int:
    """The index of the row an error of class ``kind`` gets (the first that matches)."""
    return next(i for i, (row_kind, _) in enumerate(ERROR_TABLE) if issubclass(kind, row_kind))


def _example(kind: type[Exception]) -> ServiceError | NotReady:
    if kind is NotReady:
        return NotReady("SATURATED", "why", retry_after=3)
    if kind is RateLimited:
        return RateLimited("why", retry_after=3)
    error = kind("why")
    assert isinstance(error, ServiceError)
    return error


def _answer(exc: ServiceError | NotReady) -> Any:
    return EXCEPTION_HANDLERS[type(exc) if type(exc) is NotReady else ServiceError](None, exc)


def test_the_table_ends_with_the_base_of_service_errors() -> None:
    """The last row maps every other service error (500), so no error falls through."""
    kind, row = ERROR_TABLE[-1]
    assert kind is ServiceError
    assert row == ErrorRow(status=500, title="Error")


@pytest.mark.parametrize(
    ("kind", "row"), ERROR_TABLE, ids=[kind.__name__ for kind, _ in ERROR_TABLE]
)
def test_each_row_is_reachable_and_answered_as_it_says(
    kind: type[Exception], row: ErrorRow
) -> None:
    """No earlier row shadows this one; its answer is an RFC 9457 problem, no-store, with the
    row's status and title, its challenge, and Retry-After (the error's own seconds) exactly
    when the row says, which is exactly on 429 and 503."""
    assert ERROR_TABLE[_row_index(kind)] == (kind, row)
    assert row.retry_after == (row.status in (429, 503))
    # RFC 6750 §3: a refused bearer is always answered with a challenge.
    assert (row.challenge is not None) == (row.status in (401, 403))
    exc = _example(kind)
    response = _answer(exc)
    assert response.status_code == row.status
    assert response.media_type == "application/problem+json"
    assert response.content == {
        "type": "about:blank",
        "title": row.title,
        "status": row.status,
        "detail": "why",
        "code": exc.code,
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.get("WWW-Authenticate") == row.challenge
    if row.retry_after and kind in (RateLimited, NotReady):
        assert response.headers["Retry-After"] == "3"
    elif row.retry_after:
        assert response.headers["Retry-After"] == str(RETRY_AFTER)
    else:
        assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    "kind",
    sorted({ServiceError, NotReady, *_subclasses(ServiceError)}, key=lambda k: k.__qualname__),
    ids=lambda kind: kind.__qualname__,
)
def test_every_error_class_gets_its_row(kind: type[Exception]) -> None:
    """Each error class of shared/ and of the app lands on the row it should:
    the listed kinds on theirs, other retryable errors on a 503 with Retry-After, the rest on
    the 500 row."""
    _, row = ERROR_TABLE[_row_index(kind)]
    assert (row.status, row.title, row.challenge) == _expected(kind)
    assert row.retry_after == (row.status in (429, 503))


def test_only_a_missing_scope_claims_insufficient_scope() -> None:
    """insufficient_scope is for a bearer without the scope, and nothing else: a disabled
    account's bearer has the scope (RFC 6750 §3.1)."""
    claiming = [k for k, row in ERROR_TABLE if "insufficient_scope" in (row.challenge or "")]
    assert claiming == [BearerScopeMissing]


class Refusing:
    """An encrypt service whose every call fails with ``error`` (a stand-in)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def authenticate(self, authorization: str | None) -> str:
        raise self.error

    def authenticate_inline(self, authorization: str | None) -> str | None:
        raise self.error

    def account_jwks(self, account_id: str, client: str | None = None) -> Any:
        raise self.error


def _client(service: Refusing) -> TestClient[Any]:
    app = crypto_api.app.create_app(
        Settings(
            vault_addr="http://127.0.0.1:1",
            authz_issuer="http://authz.test",
            authz_jwks_url="http://127.0.0.1:1/.well-known/jwks.json",
        ),
        overrides={"encrypt_service": service},
    )
    return TestClient(app)


@pytest.mark.parametrize("path", ["/v1/encrypt", "/v1/encrypt/batch"], ids=["single", "batch"])
def test_disabled_account_challenge_names_no_error(path: str) -> None:
    """A genuine bearer of a disabled account gets 403 ACCOUNT_DISABLED with a challenge that
    names no RFC 6750 error: not insufficient_scope (it has the scope), and not
    invalid_token (a new bearer would be refused too)."""
    with _client(Refusing(AccountDisabled("this account is disabled"))) as client:
        response = client.post(path, json={"token": "x", "tokens": ["x"]})
    assert response.status_code == 403
    assert response.json()["code"] == "ACCOUNT_DISABLED"
    assert response.headers["www-authenticate"] == REALM


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/encrypt", {"token": "x"}),
        ("POST", "/v1/encrypt/batch", {"tokens": ["x"]}),
        ("GET", "/v1/accounts/acme/jwks.json", None),
    ],
    ids=["single", "batch", "jwks"],
)
def test_unexpected_error_is_a_clean_500(
    method: str, path: str, body: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected failure answers a 500 INTERNAL problem (no-store) on every route, and
    its message (which could hold a token) is never logged."""
    leaky = RuntimeError("a message that could hold a token eyJhbGciOi")
    with caplog.at_level(logging.ERROR), _client(Refusing(leaky)) as client:
        response = client.request(method, path, json=body)
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL"
    assert response.json()["title"] == "Internal error"
    assert response.headers["cache-control"] == "no-store"
    assert [r.exc_type for r in caplog.records if r.name == "crypto_api"] == ["RuntimeError"]  # type: ignore[attr-defined]
    assert "eyJhbGciOi" not in caplog.text
