"""HTTP to an identity provider, bounded in every way a participant could be made to wait.

One shared connection pool; each exchange has a connect and a read timeout and one overall
deadline (a server dribbling a byte at a time passes every read timeout); no redirects (an
IdP's endpoints are where discovery says, and a redirect could carry a code or a secret
elsewhere); no proxy from the environment; answers read raw and capped (a compressed answer
could inflate past the cap). Authlib's client, which is an ``httpx.AsyncClient``, is given
the same transport (:meth:`IdpHttp.transport`), so the token request is bounded the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import anyio
import httpx
import msgspec

from shared.identity.errors import SsoFailed, SsoUnavailable
from shared.identity.guarded_transport import GuardedTransport

__all__ = ["MAX_BYTES", "IdpHttp", "TooLarge", "check_status"]

#: The largest answer read from an IdP (a discovery document, a JWKS, a token, a profile).
MAX_BYTES: Final = 256 * 1024
HEADERS: Final = {
    "Accept": "application/json",
    "User-Agent": "secure-token-player",
    "Accept-Encoding": "identity",
}


class TooLarge(httpx.HTTPError):
    """An answer over the size cap."""

    def __init__(self) -> None:
        super().__init__("answer over the size limit")


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:
            size += len(chunk)
            if size > self._limit:
                raise TooLarge
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedTransport(httpx.AsyncBaseTransport):
    """The pool, with every answer's body capped; closing a client that borrowed it leaves
    the pool open (it is closed once, by :meth:`IdpHttp.close`)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self._limit:
            await response.aclose()
            raise TooLarge
        if not isinstance(response.stream, httpx.AsyncByteStream):
            raise TypeError("an async transport answers async streams")
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self._limit),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        pass  # borrowed by short-lived clients: the owner closes the pool


class IdpHttp:
    """Bounded HTTP to identity providers (one per process).

    Args:
        connect_timeout: seconds to connect (TLS included).
        read_timeout: seconds between two reads.
        deadline: seconds for one whole exchange (callers enforce it with ``fail_after``).
        max_bytes: the largest answer accepted.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 3.0,
        deadline: float = 5.0,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.deadline = deadline
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._pool = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
        )
        self._transport = _CappedTransport(GuardedTransport(self._pool), max_bytes)
        self._client = httpx.AsyncClient(**self.client_options())

    def client_options(self) -> dict[str, Any]:
        """What a client of the IdP is made with (Authlib's too): the shared capped pool,
        the timeouts, no redirects, no proxy from the environment."""
        return {
            "transport": self._transport,
            "timeout": self.timeout,
            "follow_redirects": False,
            "trust_env": False,
            "headers": dict(HEADERS),
        }

    async def get_json(self, url: str, *, what: str, bearer: str | None = None) -> Any:
        """GET ``url`` and decode its JSON answer (any JSON: callers check the shape).

        Raises:
            SsoUnavailable: down, slow, a 5xx, 408 or 429 (retryable).
            SsoFailed: any other status, a redirect, too large, or not JSON (``what``
                names the endpoint).
        """
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        try:
            with anyio.fail_after(self.deadline):
                response = await self._client.get(url, headers=headers)
        except TimeoutError as exc:
            raise SsoUnavailable(f"the identity provider's {what} is too slow") from exc
        except TooLarge:
            raise SsoFailed(f"the identity provider's {what} is too large") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # InvalidURL is not an HTTPError: a stored URL httpx refuses is an outage too.
            raise SsoUnavailable(f"the identity provider's {what} cannot be reached") from exc
        check_status(response, what)
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise SsoFailed(f"the identity provider's {what} did not answer JSON") from None

    async def close(self) -> None:
        """Close the pool."""
        await self._client.aclose()
        await self._pool.aclose()


def check_status(response: httpx.Response, what: str) -> None:
    """Raise unless ``response`` is a 200 (``what`` names the endpoint).

    Raises:
        SsoUnavailable: a 5xx, 408 or 429: the IdP is down or busy (retryable).
        SsoFailed: any other status (a redirect, a refusal).
    """
    status = response.status_code
    if status == 200:
        return
    if status >= 500 or status in (408, 429):
        raise SsoUnavailable(f"the identity provider's {what} answered {status}")
    raise SsoFailed(f"the identity provider's {what} answered {status}")
