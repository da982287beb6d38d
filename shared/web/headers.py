"""Response headers both apps send, with how their OpenAPI documents describe them.

Each value sent and its documentation come from one constant, so the document cannot show
another value than the one on the wire.
"""

from __future__ import annotations

from typing import Final

from litestar.openapi.spec import OpenAPIHeader, OpenAPIType, Schema

from shared.wire import RETRY_AFTER

__all__ = [
    "CACHEABLE",
    "CACHE_A_MINUTE",
    "NO_STORE",
    "RETRY_AFTER_HEADER",
    "STRING",
    "header",
]

#: Public key sets: a minute in caches keeps rotation visible within the cache TTL.
CACHE_A_MINUTE: Final = "public, max-age=60"
#: Answers about one request (tokens, errors): never cached by a proxy.
NO_STORE: Final = "no-store"


def header(description: str, schema: Schema, example: object) -> OpenAPIHeader:
    """A documented response header; ours are always sent, so required."""
    return OpenAPIHeader(description=description, required=True, schema=schema, example=example)


STRING: Final = Schema(type=OpenAPIType.STRING)
RETRY_AFTER_HEADER: Final = header(
    "Seconds to wait before trying again.",
    Schema(type=OpenAPIType.INTEGER, minimum=1),
    RETRY_AFTER,
)
CACHEABLE: Final = header("Cacheable for a minute.", STRING, CACHE_A_MINUTE)
