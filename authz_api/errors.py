"""Error table of the Authorization API, once, as data: RFC 6749 §5.2 JSON bodies.

Every answer that is not a success comes from here: an :class:`OAuthError` by its ``error``
(:data:`ERROR_TABLE`), a readiness refusal (:data:`NOT_READY`), a framework refusal (405,
404, 413) in the same JSON shape, and anything unexpected as a 500 that says nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from authz_api.schemas import MAX_BODY_BYTES, Health
from shared.server.oauth_error import OAuthError
from shared.web import headers
from shared.web.body_limits import too_large
from shared.web.error_table import ErrorRow, on_error, on_unexpected
from shared.web.health import NotReady
from shared.wire import OAuthErrorCode

__all__ = [
    "ERROR_TABLE",
    "EXCEPTION_HANDLERS",
    "HEADER_AUTH",
    "NOT_READY",
    "NO_STORE",
    "REALM",
    "HeaderAuthRefused",
    "oauth_error_response",
]

logger = logging.getLogger("authz_api")
#: The realm of :data:`HEADER_AUTH`'s challenge.
REALM: Final = "authz-api"
#: An auth-scheme as RFC 9110 §11.1 spells it (a token); another gets the Basic challenge.
_SCHEME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")


class HeaderAuthRefused(OAuthError):
    """The client authenticated with the Authorization header: invalid_client, answered
    with :data:`HEADER_AUTH` and a challenge in the client's ``scheme`` (RFC 6749 §5.2)."""

    def __init__(self, scheme: str) -> None:
        super().__init__(
            "invalid_client",
            "client authentication with the Authorization header (HTTP Basic, "
            "client_secret_basic) is not supported: authenticate with a client assertion in "
            "the form (client_assertion_type=urn:ietf:params:oauth:client-assertion-type:"
            "jwt-bearer, private_key_jwt or client_secret_jwt), or send a secure token with "
            "the jwt-bearer grant, and no Authorization header",
        )
        self.scheme = (
            "Basic" if scheme.lower() == "basic" or not _SCHEME.fullmatch(scheme) else scheme
        )


#: How each OAuth error is answered. RFC 6749 §5.2: 400, or 401 for client authentication
#: (``unauthorized_client`` being an authenticated client refused this grant: 400); RFC 8628
#: §3.5 ``slow_down`` for the rate limit; ``temporarily_unavailable`` for outages. No row
#: has a challenge: §5.2 asks for ``WWW-Authenticate`` only when the client authenticated
#: with the Authorization header, and ours authenticate with the JWT in the body (a client
#: that tries the header anyway gets :data:`HEADER_AUTH`). RFC 6749 bodies have no title;
#: the titles name the rows for people reading the table.
ERROR_TABLE: Final[dict[OAuthErrorCode, ErrorRow]] = {
    "invalid_request": ErrorRow(status=400, title="Invalid request"),
    "invalid_client": ErrorRow(status=401, title="Client authentication failed"),
    "invalid_grant": ErrorRow(status=400, title="Assertion refused"),
    "unsupported_grant_type": ErrorRow(status=400, title="Unsupported grant type"),
    "invalid_scope": ErrorRow(status=400, title="Unknown scope"),
    "unauthorized_client": ErrorRow(status=400, title="Grant not allowed for this client"),
    "slow_down": ErrorRow(status=429, title="Too many requests", retry_after=True),
    "temporarily_unavailable": ErrorRow(
        status=503, title="Temporarily unavailable", retry_after=True
    ),
}
#: A client that authenticated with the Authorization header (HTTP Basic, client_secret_basic,
#: which we do not support): RFC 6749 §5.2 asks for 401 invalid_client with a challenge in
#: the scheme the client used (Basic here; :class:`HeaderAuthRefused` names another).
HEADER_AUTH: Final = ErrorRow(
    status=401, title="Client authentication failed", challenge=f'Basic realm="{REALM}"'
)
#: ``/health/ready`` saying no: a :class:`~authz_api.schemas.Health` body with the reason.
NOT_READY: Final = ErrorRow(status=503, title="Not ready", retry_after=True)

#: Token responses, good or bad, must not be cached (RFC 6749 §5.1).
NO_STORE: Final = {"Cache-Control": headers.NO_STORE, "Pragma": "no-cache"}


def _render_oauth_error(exc: OAuthError, row: ErrorRow) -> Response[dict[str, str]]:
    body = {"error": exc.error, "error_description": exc.description}
    if exc.code:
        body["code"] = exc.code
    return Response(
        body, status_code=row.status, headers={**NO_STORE, **row.headers(exc.retry_after)}
    )


def oauth_error_response(exc: OAuthError) -> Response[dict[str, str]]:
    """The JSON error body, status and headers for ``exc``, as its row says."""
    return _render_oauth_error(exc, ERROR_TABLE[exc.error])


def _render_header_auth(exc: HeaderAuthRefused, row: ErrorRow) -> Response[dict[str, str]]:
    challenge = f'{exc.scheme} realm="{REALM}"'
    return _render_oauth_error(exc, msgspec.structs.replace(row, challenge=challenge))


def _render_not_ready(exc: NotReady, row: ErrorRow) -> Response[Health]:
    return Response(
        Health(status="unavailable", code=exc.code),
        status_code=row.status,
        headers=row.headers(exc.retry_after),
    )


def _on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    """Framework-level refusals (413 body too large, 405, 404) in the same JSON shape."""
    description = too_large(MAX_BODY_BYTES) if exc.status_code == 413 else str(exc.detail)
    return Response(
        {"error": "invalid_request", "error_description": description},
        status_code=exc.status_code,
        headers={**NO_STORE, **(exc.headers or {})},
    )


def _internal_error() -> Response[dict[str, str]]:
    return Response(
        {"error": "server_error", "error_description": "unexpected error; it has been logged"},
        status_code=500,
        headers=NO_STORE,
    )


EXCEPTION_HANDLERS: Final[dict[type[Exception], Any]] = {
    OAuthError: on_error(lambda exc: ERROR_TABLE[exc.error], _render_oauth_error),
    HeaderAuthRefused: on_error(lambda _: HEADER_AUTH, _render_header_auth),
    NotReady: on_error(lambda _: NOT_READY, _render_not_ready),
    HTTPException: _on_http_error,
    Exception: on_unexpected(logger, _internal_error),
}
