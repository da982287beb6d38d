"""httpx's transport for the player's calls to customers' servers (the profile API, the
IdP, the webhook receiver), with the HTTP stack's stray errors made httpx errors.

Every caller maps ``httpx.HTTPError`` to "cannot be reached" (retryable). httpcore 1.0 on
anyio 4 lets an ``AttributeError`` out instead when a new connection is reset before
httpcore first looks at it (anyio asks the peer address of a socket asyncio has already
dropped): measured under load against a profile API going down, where it was a 500, and
it would have ended a worker's webhook deliveries. Anything the inner transport raises
that is not an httpx error is raised as :class:`httpx.TransportError` from it.
"""

from __future__ import annotations

import httpx

__all__ = ["GuardedTransport"]


class GuardedTransport(httpx.AsyncBaseTransport):
    """``inner`` (by default a fresh connection pool of ``limits``), its errors all httpx's."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport | None = None, *, limits: httpx.Limits | None = None
    ) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport(limits=limits or httpx.Limits())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the inner transport.

        Raises:
            httpx.HTTPError: what the inner transport raised, or ``TransportError`` from
                any other exception of it.
        """
        try:
            return await self._inner.handle_async_request(request)
        except httpx.HTTPError:
            raise
        except Exception as exc:  # a bug below us is still "cannot be reached" for us
            raise httpx.TransportError(
                f"the HTTP stack failed ({type(exc).__name__})", request=request
            ) from exc

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
