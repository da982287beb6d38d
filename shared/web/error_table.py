"""Error-table plumbing: each app maps its errors to HTTP once, as rows of data.

A row says everything an error answer carries besides its body: the status, a title, the
``WWW-Authenticate`` challenge and whether ``Retry-After`` is sent. Each app keeps its table
beside its handlers and renders its own body shape (RFC 6749 JSON, RFC 9457 problems); a
test walks every row, so no status hides in an if-chain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

from shared.web.access_log import log_unexpected
from shared.wire import RETRY_AFTER

__all__ = ["ErrorRow", "ExceptionRows", "on_error", "on_unexpected", "row_for"]

E = TypeVar("E", bound=Exception)
Handler = Callable[[Request[Any, Any, Any], E], Response[Any]]


class ErrorRow(msgspec.Struct, frozen=True, kw_only=True):
    """How one kind of error is answered, apart from its body."""

    #: The HTTP status.
    status: int
    #: The kind of problem, for humans (an RFC 9457 ``title``).
    title: str
    #: The ``WWW-Authenticate`` value (RFC 9110 §11.6.1), or None for no challenge.
    challenge: str | None = None
    #: Whether the answer says when to try again (``Retry-After``).
    retry_after: bool = False

    def headers(self, retry_after: int | None = None) -> dict[str, str]:
        """The challenge and Retry-After headers of this row; ``retry_after`` seconds when
        the error knows them (a rate limit does), else :data:`shared.wire.RETRY_AFTER`."""
        headers: dict[str, str] = {}
        if self.challenge is not None:
            headers["WWW-Authenticate"] = self.challenge
        if self.retry_after:
            headers["Retry-After"] = str(RETRY_AFTER if retry_after is None else retry_after)
        return headers


#: An exception table: the first row whose class the error is an instance of applies, so
#: subclasses come before their bases and the last row is the base of them all.
ExceptionRows = Sequence[tuple[type[Exception], ErrorRow]]


def row_for(rows: ExceptionRows, exc: Exception) -> ErrorRow:
    """The first row of ``rows`` whose class ``exc`` is an instance of.

    Raises:
        LookupError: no row matches (a table must end with the base of what it maps).
    """
    for kind, row in rows:
        if isinstance(exc, kind):
            return row
    raise LookupError(f"no error row for {type(exc).__name__}")


def on_error(
    row_of: Callable[[E], ErrorRow], render: Callable[[E, ErrorRow], Response[Any]]
) -> Handler[E]:
    """An exception handler answering ``render(exc, row_of(exc))``."""

    def handle(_: Request[Any, Any, Any], exc: E) -> Response[Any]:
        return render(exc, row_of(exc))

    return handle


def on_unexpected(
    logger: logging.Logger, answer: Callable[[], Response[Any]]
) -> Handler[Exception]:
    """The handler of last resort: logs where the failure happened (never its message,
    which may carry a token) and answers ``answer()``, a 500 that says nothing more."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        log_unexpected(logger, exc, request.url.path)
        return answer()

    return handle
