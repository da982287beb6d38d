"""Error rows say what an answer carries besides its body; the first matching row applies;
the handler of last resort logs where, never what."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar import Litestar, Response, get
from litestar.testing import TestClient

from shared.web.error_table import ErrorRow, on_error, on_unexpected, row_for
from shared.wire import RETRY_AFTER


class Outer(Exception):
    """A base error of a test table."""


class Inner(Outer):
    """A subclass of it."""


ROWS = ((Inner, ErrorRow(status=409, title="Inner")), (Outer, ErrorRow(status=400, title="Outer")))


def test_row_headers() -> None:
    """A row sends its challenge, and Retry-After only when it says so: the error's seconds,
    or the default."""
    plain = ErrorRow(status=400, title="Bad")
    assert plain.headers(7) == {}
    challenged = ErrorRow(status=401, title="No", challenge='Bearer realm="x"')
    assert challenged.headers() == {"WWW-Authenticate": 'Bearer realm="x"'}
    later = ErrorRow(status=503, title="Later", retry_after=True)
    assert later.headers() == {"Retry-After": str(RETRY_AFTER)}
    assert later.headers(2) == {"Retry-After": "2"}


def test_the_first_matching_row_applies() -> None:
    """A subclass gets its own row when it comes first, a base its own; an error no row
    matches is refused loudly (a table must end with its base)."""
    assert row_for(ROWS, Inner()).title == "Inner"
    assert row_for(ROWS, Outer()).title == "Outer"
    assert row_for(tuple(reversed(ROWS)), Inner()).title == "Outer"
    with pytest.raises(LookupError, match="ValueError"):
        row_for(ROWS, ValueError())


def _render(exc: Outer, row: ErrorRow) -> Response[dict[str, Any]]:
    return Response({"title": row.title, "why": str(exc)}, status_code=row.status)


@get("/inner")
async def _inner() -> None:
    raise Inner("inner")


@get("/boom")
async def _boom() -> None:
    raise RuntimeError("a message that could hold a token eyJhbGciOi")


def test_handlers_in_an_app(caplog: pytest.LogCaptureFixture) -> None:
    """``on_error`` answers the rendered row; ``on_unexpected`` answers its 500 and logs the
    error's type and file:line frames, never its message."""
    app = Litestar(
        route_handlers=[_inner, _boom],
        exception_handlers={
            Outer: on_error(lambda exc: row_for(ROWS, exc), _render),
            Exception: on_unexpected(
                logging.getLogger("web-test"), lambda: Response({"oops": True}, status_code=500)
            ),
        },
        logging_config=None,  # as the apps: Litestar's own would take the records away
    )
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        inner = client.get("/inner")
        boom = client.get("/boom")
    assert (inner.status_code, inner.json()) == (409, {"title": "Inner", "why": "inner"})
    assert (boom.status_code, boom.json()) == (500, {"oops": True})
    record = next(r for r in caplog.records if r.name == "web-test")
    assert record.exc_type == "RuntimeError"  # type: ignore[attr-defined]
    assert any("test_error_table.py" in f for f in record.frames)  # type: ignore[attr-defined]
    assert "eyJhbGciOi" not in caplog.text
