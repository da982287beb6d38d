"""The few request headers a hot route reads, from one pass over the ASGI scope.

Litestar builds a header map (``request.headers``), then parses ``Content-Type`` and
``Accept`` into objects, on each request that asks: together about a tenth of an encrypt's
framework time (issue 17). These read ``scope["headers"]`` once (ASGI servers give names in
lower case) and leave anything but the common cases to Litestar's own parsers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request

__all__ = ["best_media_type", "header_values", "media_type"]


def header_values(request: Request[Any, Any, Any], name: bytes) -> list[str]:
    """Every value of header ``name`` (lower-case bytes), in order, as latin-1 text."""
    return [value.decode("latin-1") for key, value in request.scope["headers"] if key == name]


def media_type(request: Request[Any, Any, Any]) -> str:
    """The request's media type, lower case, without parameters ("" without a header);
    Litestar's ``request.content_type[0]``."""
    for key, value in request.scope["headers"]:
        if key == b"content-type":
            return value.split(b";", 1)[0].strip().decode("latin-1").lower()
    return ""


def best_media_type(request: Request[Any, Any, Any], offered: Sequence[str]) -> str | None:
    """What ``Accept`` prefers of ``offered`` (the first when it says nothing or ``*/*``, or
    names exactly one of them); any other ``Accept`` goes to Litestar's negotiation."""
    values = header_values(request, b"accept")
    if not values:
        return offered[0]
    if len(values) == 1:
        accept = values[0].strip()
        if accept == "*/*":
            return offered[0]
        if accept in offered:
            return accept
    return request.accept.best_match(list(offered))
