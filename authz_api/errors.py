"""Error mapping of the Authorization API, once, as a table: RFC 6749 §5.2 JSON bodies."""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException

from shared.server.token_service import OAuthError
from shared.web.access_log import log_unexpected
from shared.wire import OAuthErrorCode

__all__ = ["EXCEPTION_HANDLERS", "NO_STORE", "STATUS_FOR_ERROR", "oauth_error_response"]

logger = logging.getLogger("authz_api")

#: HTTP status for each OAuth error (RFC 6749 §5.2: 400, or 401 for client authentication,
#: ``unauthorized_client`` being an authenticated client refused this grant: 400;
#: RFC 8628 §3.5 ``slow_down`` for the rate limit; ``temporarily_unavailable`` for outages).
STATUS_FOR_ERROR: Final[dict[OAuthErrorCode, int]] = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "unauthorized_client": 400,
    "slow_down": 429,
    "temporarily_unavailable": 503,
}

#: Token responses, good or bad, must not be cached (RFC 6749 §5.1).
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error_response(exc: OAuthError) -> Response[dict[str, str]]:
    """The JSON error body, status and headers for ``exc``."""
    body = {"error": exc.error, "error_description": exc.description}
    if exc.code:
        body["code"] = exc.code
    headers = dict(NO_STORE)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return Response(body, status_code=STATUS_FOR_ERROR[exc.error], headers=headers)


def _on_oauth_error(_: Request[Any, Any, Any], exc: OAuthError) -> Response[dict[str, str]]:
    return oauth_error_response(exc)


def _on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    """Framework-level refusals (413 body too large, 405, 404) in the same JSON shape."""
    description = (
        "the request body is too large (limit 64 KiB)"
        if exc.status_code == 413
        else str(exc.detail)
    )
    return Response(
        {"error": "invalid_request", "error_description": description},
        status_code=exc.status_code,
        headers={**NO_STORE, **(exc.headers or {})},
    )


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    log_unexpected(logger, exc, request.url.path)
    return Response(
        {"error": "server_error", "error_description": "unexpected error; it has been logged"},
        status_code=500,
        headers=NO_STORE,
    )


EXCEPTION_HANDLERS: Final = {
    OAuthError: _on_oauth_error,
    HTTPException: _on_http_error,
    Exception: _on_unexpected,
}
