"""Error table of the player, once, as data: problem+json for the JSON API, the error
screen (the same status, ``data-code``) for pages.

A token's refusal keeps its DESIGN §2 code; ``UNKNOWN`` (Vault, a JWKS endpoint, the
profile API or Redis failed) is a 503 with ``Retry-After`` and a "try again" page.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from player.pages import error_page
from shared.errors import (
    JwksRefused,
    RateLimited,
    RequestInvalid,
    ServiceError,
    TokenError,
    VerificationUnavailable,
)
from shared.identity import (
    CampaignNotFound,
    FormCrossSite,
    FormInvalid,
    MessageChannel,
    NotEligible,
    ParticipationLimitReached,
    ProfileUnauthorized,
    SsoDenied,
    SsoFailed,
    SsoIssuerMismatch,
    SsoStateInvalid,
    SsoUnavailable,
)
from shared.web.error_table import ErrorRow, ExceptionRows, on_unexpected, row_for
from shared.web.headers import NO_STORE
from shared.web.health import NotReady

__all__ = [
    "API_HANDLERS",
    "ERROR_TABLE",
    "PAGE_HANDLERS",
    "RequestInvalid",
    "page_error",
    "page_headers",
]

logger = logging.getLogger("player")
PROBLEM: Final = "application/problem+json"


_UNAVAILABLE: Final = ErrorRow(status=503, title="Temporarily unavailable", retry_after=True)

#: How each error is answered: the first row whose class the error is an instance of.
ERROR_TABLE: Final[ExceptionRows] = (
    (VerificationUnavailable, _UNAVAILABLE),
    (ProfileUnauthorized, ErrorRow(status=403, title="Profile refused the access token")),
    (JwksRefused, ErrorRow(status=422, title="Account's JWKS endpoint refused")),
    (TokenError, ErrorRow(status=422, title="Token refused")),
    (CampaignNotFound, ErrorRow(status=404, title="No such campaign")),
    (NotEligible, ErrorRow(status=403, title="Not eligible")),
    (ParticipationLimitReached, ErrorRow(status=409, title="Participation limit reached")),
    (FormCrossSite, ErrorRow(status=403, title="Form posted from another site")),
    (FormInvalid, ErrorRow(status=400, title="Form refused")),
    (SsoUnavailable, ErrorRow(status=503, title="Identity provider unavailable", retry_after=True)),
    (SsoStateInvalid, ErrorRow(status=400, title="Sign-in state refused")),
    (SsoIssuerMismatch, ErrorRow(status=400, title="Sign-in from another provider")),
    (SsoDenied, ErrorRow(status=403, title="Sign-in refused")),
    (SsoFailed, ErrorRow(status=502, title="Sign-in failed")),
    (RateLimited, ErrorRow(status=429, title="Too many requests", retry_after=True)),
    (RequestInvalid, ErrorRow(status=400, title="Invalid request")),
    (NotReady, ErrorRow(status=503, title="Not ready", retry_after=True)),
    (ServiceError, ErrorRow(status=500, title="Error")),
)


def page_headers(frame_ancestors: str) -> dict[str, str]:
    """Security headers of every page: a strict CSP with ``frame-ancestors``, the referrer
    kept to the player itself (a token in the URL must not travel to another site; and
    ``no-referrer`` would make a browser send ``Origin: null`` with the form, defeating the
    same-origin check), never cached."""
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
            f"form-action 'self'; base-uri 'none'; frame-ancestors {frame_ancestors}"
        ),
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": NO_STORE,
    }


def _problem(status: int, title: str, code: str, detail: str, **headers: str) -> Response[Any]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    return Response(
        body, status_code=status, media_type=PROBLEM, headers={"Cache-Control": NO_STORE, **headers}
    )


def _code_of(exc: ServiceError | NotReady) -> str:
    return exc.code


def _api_error(_: Request[Any, Any, Any], exc: ServiceError | NotReady) -> Response[Any]:
    row = row_for(ERROR_TABLE, exc)
    return _problem(row.status, row.title, exc.code, exc.detail, **row.headers(exc.retry_after))


def _screen(
    code: str,
    status: int,
    headers: dict[str, str],
    *,
    retryable: bool,
    frame_ancestors: str,
    channel: MessageChannel | None = None,
) -> Response[Any]:
    return Response(
        error_page(code, retryable=retryable, channel=channel),
        status_code=status,
        media_type="text/html",  # Litestar adds "; charset=utf-8"
        headers={**page_headers(frame_ancestors), **headers},
    )


def page_error(
    exc: ServiceError | NotReady,
    frame_ancestors: str = "'none'",
    channel: MessageChannel | None = None,
) -> Response[Any]:
    """The error screen of ``exc``, framable where the campaign's page is; with a messages
    ``channel``, the blocked screen that tells the parent page the code."""
    row = row_for(ERROR_TABLE, exc)
    retryable = bool(exc.retry_after) or row.retry_after or getattr(exc, "retryable", False)
    return _screen(
        _code_of(exc),
        row.status,
        row.headers(exc.retry_after),
        retryable=retryable,
        frame_ancestors=frame_ancestors,
        channel=channel,
    )


def _page_error(_: Request[Any, Any, Any], exc: ServiceError | NotReady) -> Response[Any]:
    # Outside a known campaign (its settings unread): framed nowhere is the safe reading.
    return page_error(exc)


def _http_code(exc: HTTPException) -> str:
    return {413: "PAYLOAD_TOO_LARGE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        exc.status_code, "REQUEST_INVALID"
    )


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return _problem(
        exc.status_code, "Request refused", _http_code(exc), str(exc.detail), **(exc.headers or {})
    )


def _page_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    # A page's refusal by the framework (a form too large) is a screen too, never JSON
    # shown to a participant.
    return _screen(
        _http_code(exc),
        exc.status_code,
        exc.headers or {},
        retryable=False,
        frame_ancestors="'none'",
    )


def _internal() -> Response[Any]:
    return _problem(500, "Internal error", "INTERNAL", "unexpected error; it has been logged")


def _internal_screen() -> Response[Any]:
    return _screen("INTERNAL", 500, {}, retryable=True, frame_ancestors="'none'")


API_HANDLERS: Final[ExceptionHandlersMap] = {
    ServiceError: _api_error,
    NotReady: _api_error,
    HTTPException: _http_error,
    Exception: on_unexpected(logger, _internal),
}
PAGE_HANDLERS: Final[ExceptionHandlersMap] = {
    ServiceError: _page_error,
    NotReady: _page_error,
    HTTPException: _page_http_error,
    Exception: on_unexpected(logger, _internal_screen),
}
