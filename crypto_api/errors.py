"""Error mapping of the Crypto API, once, as a table: RFC 9457 problem+json with our code."""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException

from shared.errors import (
    AccountDisabled,
    AccountNotFound,
    JwksUnavailable,
    RateLimited,
    ServiceError,
    TokenError,
    VerificationUnavailable,
)
from shared.server.bearer_check import BearerInvalid, BearerMissing, BearerScopeMissing
from shared.web.access_log import log_unexpected

__all__ = ["EXCEPTION_HANDLERS", "STATUS_FOR_ERROR", "RequestInvalid", "RequestTooLarge", "problem"]

logger = logging.getLogger("crypto_api")
PROBLEM: Final = "application/problem+json"
RETRY_AFTER: Final = "5"


class RequestInvalid(ServiceError):
    """The request itself is malformed (body shape)."""

    code = "REQUEST_INVALID"

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.status = status


class RequestTooLarge(RequestInvalid):
    """More than the request may carry (413)."""

    code = "PAYLOAD_TOO_LARGE"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, status=413)


#: First match wins (subclasses before their bases).
STATUS_FOR_ERROR: Final[tuple[tuple[type[ServiceError], int, str], ...]] = (
    (BearerInvalid, 401, "Bearer token refused"),
    (BearerScopeMissing, 403, "Bearer lacks the needed scope"),
    (AccountDisabled, 403, "Account disabled"),
    (RateLimited, 429, "Too many requests"),
    (VerificationUnavailable, 503, "Temporarily unavailable"),
    (TokenError, 422, "Token refused"),
    (AccountNotFound, 404, "No such account"),
    (JwksUnavailable, 503, "Temporarily unavailable"),
    (RequestInvalid, 400, "Invalid request"),
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
        headers={"Cache-Control": "no-store", **headers},
    )


def _on_service_error(_: Request[Any, Any, Any], exc: ServiceError) -> Response[dict[str, Any]]:
    fallback = (503, "Temporarily unavailable") if exc.retryable else (500, "Error")
    status, title = next(
        ((status, title) for kind, status, title in STATUS_FOR_ERROR if isinstance(exc, kind)),
        fallback,
    )
    if isinstance(exc, RequestInvalid):
        status = exc.status
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers["Retry-After"] = str(getattr(exc, "retry_after", RETRY_AFTER))
    if isinstance(exc, BearerMissing):
        headers["WWW-Authenticate"] = 'Bearer realm="crypto-api"'  # RFC 6750 §3.1: no error
    elif status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="crypto-api", error="invalid_token"'

    if status == 403:
        headers["WWW-Authenticate"] = (
            'Bearer realm="crypto-api", error="insufficient_scope", scope="token:encrypt"'
        )
    return problem(status, title, exc.code, exc.detail, **headers)


def _on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code = {413: "PAYLOAD_TOO_LARGE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        exc.status_code, "REQUEST_INVALID"
    )
    detail = "the request body is too large" if exc.status_code == 413 else str(exc.detail)
    return problem(exc.status_code, "Request refused", code, detail, **(exc.headers or {}))


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log_unexpected(logger, exc, request.url.path)
    return problem(500, "Internal error", "INTERNAL", "unexpected error; it has been logged")


EXCEPTION_HANDLERS: Final = {
    ServiceError: _on_service_error,
    HTTPException: _on_http_error,
    Exception: _on_unexpected,
}
