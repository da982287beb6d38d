"""Error table of the Crypto API, once, as data: RFC 9457 problem+json with our code.

Every answer that is not a success comes from here: a service error or a readiness refusal
by the first row of :data:`ERROR_TABLE` it is an instance of, a framework refusal (405, 404,
413) as a problem too, and anything unexpected as a 500 that says nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException

from shared.errors import (
    AccountDisabled,
    AccountNotFound,
    JwksRefused,
    JwksUnavailable,
    RateLimited,
    ReplayStoreUnavailable,
    RequestInvalid,
    ServiceError,
    TokenError,
    VaultUnavailable,
    VerificationUnavailable,
)
from shared.identity.errors import SsoUnavailable
from shared.keycloak import KeycloakUnavailable
from shared.server.bearer_check import BearerInvalid, BearerMissing, BearerScopeMissing
from shared.web.body_limits import too_large
from shared.web.error_table import ErrorRow, ExceptionRows, on_error, on_unexpected, row_for
from shared.web.headers import NO_STORE
from shared.web.health import NotReady
from shared.wire import SCOPE_ENCRYPT

__all__ = [
    "ERROR_TABLE",
    "EXCEPTION_HANDLERS",
    "TOO_LARGE_TITLE",
    "RequestInvalid",
    "RequestTooLarge",
    "problem",
]

logger = logging.getLogger("crypto_api")
PROBLEM: Final = "application/problem+json"


class RequestTooLarge(RequestInvalid):
    """More than the request may carry (413)."""

    code = "PAYLOAD_TOO_LARGE"


_REALM: Final = 'Bearer realm="crypto-api"'
#: The one title of every 413, the table's (too many tokens) and the framework's (a body
#: over the route's limit): RFC 9110 §15.5.14's name for the status.
TOO_LARGE_TITLE: Final = "Content too large"
_UNAVAILABLE: Final = ErrorRow(status=503, title="Temporarily unavailable", retry_after=True)

#: How each error is answered: the first row whose class the error is an instance of
#: (subclasses before their bases; the last row catches every other service error).
ERROR_TABLE: Final[ExceptionRows] = (
    # RFC 6750 §3.1: no error code when the request carried no credentials at all.
    (BearerMissing, ErrorRow(status=401, title="Bearer token refused", challenge=_REALM)),
    (
        BearerInvalid,
        ErrorRow(
            status=401,
            title="Bearer token refused",
            challenge=f'{_REALM}, error="invalid_token"',
        ),
    ),
    (
        BearerScopeMissing,
        ErrorRow(
            status=403,
            title="Bearer lacks the needed scope",
            challenge=f'{_REALM}, error="insufficient_scope", scope="{SCOPE_ENCRYPT}"',
        ),
    ),
    # The bearer is genuine and has the scope: insufficient_scope would send the client for
    # another scope, and invalid_token (a 401 code) for a new bearer, which the
    # Authorization API refuses a disabled account. No RFC 6750 code fits, so the
    # challenge names none (§3: the error attribute is optional); ACCOUNT_DISABLED in the
    # body says why.
    (AccountDisabled, ErrorRow(status=403, title="Account disabled", challenge=_REALM)),
    (RateLimited, ErrorRow(status=429, title="Too many requests", retry_after=True)),
    (VerificationUnavailable, _UNAVAILABLE),
    # Not the token's fault, and no retry fixes it: the account's endpoint must be fixed.
    (JwksRefused, ErrorRow(status=422, title="Account's JWKS endpoint refused")),
    (TokenError, ErrorRow(status=422, title="Token refused")),
    (AccountNotFound, ErrorRow(status=404, title="No such account")),
    (JwksUnavailable, _UNAVAILABLE),
    (RequestTooLarge, ErrorRow(status=413, title=TOO_LARGE_TITLE)),
    (RequestInvalid, ErrorRow(status=400, title="Invalid request")),
    (NotReady, ErrorRow(status=503, title="Not ready", retry_after=True)),
    # Not the request's fault, and worth a retry: the other retryable errors.
    (VaultUnavailable, _UNAVAILABLE),
    (ReplayStoreUnavailable, _UNAVAILABLE),
    (KeycloakUnavailable, _UNAVAILABLE),
    (SsoUnavailable, _UNAVAILABLE),
    (ServiceError, ErrorRow(status=500, title="Error")),
)


def problem(
    status: int, title: str, code: str, detail: str, **headers: str
) -> Response[dict[str, Any]]:
    """An RFC 9457 problem response with our ``code``."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    # Errors are about this request: never cached by a proxy.
    return Response(
        body,
        status_code=status,
        media_type=PROBLEM,
        headers={"Cache-Control": NO_STORE, **headers},
    )


def _render(exc: ServiceError | NotReady, row: ErrorRow) -> Response[dict[str, Any]]:
    return problem(row.status, row.title, exc.code, exc.detail, **row.headers(exc.retry_after))


def _on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code = {413: "PAYLOAD_TOO_LARGE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        exc.status_code, "REQUEST_INVALID"
    )
    # No limit in the text: it is the route's (one token, or a batch of them).
    if exc.status_code == 413:
        title, detail = TOO_LARGE_TITLE, too_large()
    else:
        title, detail = "Request refused", str(exc.detail)
    return problem(exc.status_code, title, code, detail, **(exc.headers or {}))


def _internal_error() -> Response[dict[str, Any]]:
    return problem(500, "Internal error", "INTERNAL", "unexpected error; it has been logged")


_on_error = on_error(lambda exc: row_for(ERROR_TABLE, exc), _render)
EXCEPTION_HANDLERS: Final[dict[type[Exception], Any]] = {
    ServiceError: _on_error,
    NotReady: _on_error,
    HTTPException: _on_http_error,
    Exception: on_unexpected(logger, _internal_error),
}
