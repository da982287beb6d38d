"""The hot routes' header reads agree with Litestar's own parsers on every case, the
common ones answered without them."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request

from shared.web.request_headers import best_media_type, header_values, media_type

OFFERED = ("application/json", "application/jwt")


def _request(*headers: tuple[str, str]) -> Request[Any, Any, Any]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(name.encode(), value.encode("latin-1")) for name, value in headers],
        "query_string": b"",
        "app": None,
    }
    return Request(scope)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        "application/jwt",
        "application/JWT",
        "Application/Json; charset=utf-8",
        " application/jwt ;q=1",
        "text/plain",
        "",
    ],
)
def test_media_type_is_litestars(value: str) -> None:
    request = _request(("content-type", value))
    assert media_type(request) == request.content_type[0]


def test_no_content_type_is_empty() -> None:
    assert media_type(_request()) == "" == _request().content_type[0]


@pytest.mark.parametrize(
    "accepts",
    [
        [],
        ["*/*"],
        ["application/json"],
        ["application/jwt"],
        ["application/jwt;q=0.5, application/json"],
        ["application/json;q=0.1, application/jwt;q=0.9"],
        ["text/html, application/*;q=0.8"],
        ["application/*"],
        ["text/html"],
        ["application/jwt", "application/json"],
        [" application/jwt "],
    ],
)
def test_best_media_type_is_litestars(accepts: list[str]) -> None:
    request = _request(*(("accept", value) for value in accepts))
    assert best_media_type(request, OFFERED) == request.accept.best_match(list(OFFERED))


def test_header_values_keep_every_copy_in_order() -> None:
    request = _request(("authorization", "Bearer a"), ("x", "y"), ("authorization", "Bearer b"))
    assert header_values(request, b"authorization") == ["Bearer a", "Bearer b"]
    assert header_values(request, b"authorization") == request.headers.getall("authorization")
    assert header_values(request, b"missing") == []
