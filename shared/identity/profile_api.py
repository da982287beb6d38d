"""The customer's profile API, for tokens that carry an ``access_token`` instead of data.

``GET <profile_api>`` with ``Authorization: Bearer <access_token>``; the answer must be a
JSON object of at most :data:`MAX_BYTES`. Bounded in every way a participant could be made
to wait: a connect and a read timeout, and one overall deadline over the whole exchange (a
server dribbling a byte at a time passes every read timeout); no redirects (a redirect
would carry the access token wherever the customer's server, or whoever controls it, says).

The answer is read like a token's claims: an object with ``profile``, ``form``, ``optin``
or ``custom`` members is used as is; any other object is taken as the ``profile`` itself.

Outcomes: the claims; :class:`ProfileUnauthorized` for a 401 or 403 (the access token was
refused: not retryable); :class:`VerificationUnavailable` (``UNKNOWN``, retryable) for
everything else: down, slow, a redirect, another status, too large, not a JSON object.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import anyio
import httpx
import msgspec

from shared.errors import VerificationUnavailable
from shared.identity.errors import ProfileUnauthorized
from shared.identity.guarded_transport import GuardedTransport

__all__ = ["DATA_MEMBERS", "MAX_BYTES", "ProfileApi"]

logger = logging.getLogger("shared.identity.profile_api")
#: The largest answer read; a profile is a few hundred bytes.
MAX_BYTES: Final = 256 * 1024
#: Members that make an answer read as claims rather than as a bare profile.
DATA_MEMBERS: Final = frozenset({"profile", "form", "optin", "custom"})
_SORRY: Final = "the participant's profile cannot be read right now; try again in a moment"


class ProfileApi:
    """Fetch participants' profiles from customers' profile APIs (one shared client).

    Args:
        connect_timeout: seconds to connect (TLS included).
        read_timeout: seconds between two reads.
        deadline: seconds for the whole exchange.
        max_bytes: the largest answer accepted.
        transport: an httpx transport (tests: a fault the real network cannot produce).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 3.0,
        deadline: float = 5.0,
        max_bytes: int = MAX_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._deadline = deadline
        self._max = max_bytes
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
            # The profile belongs to the participant, not to a proxy set in the environment.
            trust_env=False,
            headers={
                "Accept": "application/json",
                "User-Agent": "secure-token-player",
                # Read raw and capped: a compressed answer could inflate past the cap.
                "Accept-Encoding": "identity",
            },
            transport=GuardedTransport(
                transport, limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
            ),
        )

    async def fetch(self, url: str, access_token: str) -> dict[str, Any]:
        """The participant's claims as the profile API tells them.

        Raises:
            ProfileUnauthorized: the API refused the access token (401, 403).
            VerificationUnavailable: any other failure (``UNKNOWN``, retryable).
        """
        try:
            with anyio.fail_after(self._deadline):
                status, body = await self._get(url, access_token)
        except TimeoutError as exc:
            logger.warning("profile API too slow", extra={"cause": "deadline"})
            raise VerificationUnavailable(_SORRY) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # InvalidURL is not an HTTPError: a stored URL httpx refuses is an outage too.
            logger.warning("profile API unreachable", extra={"cause": type(exc).__name__})
            raise VerificationUnavailable(_SORRY) from exc
        if status in (401, 403):
            raise ProfileUnauthorized(
                "the customer's profile API refused the participant's access token: "
                "sign in again on the customer's site"
            )
        if status != 200:
            logger.warning("profile API refused", extra={"cause": f"status {status}"})
            raise VerificationUnavailable(_SORRY)
        return _claims(body)

    async def _get(self, url: str, access_token: str) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {access_token}"}
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                return response.status_code, b""
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > self._max:
                raise _TooLarge
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self._max:
                    raise _TooLarge
                chunks.append(chunk)
            return 200, b"".join(chunks)

    async def close(self) -> None:
        """Close the connections."""
        await self._client.aclose()


class _TooLarge(httpx.HTTPError):
    def __init__(self) -> None:
        super().__init__("answer over the size limit")


def _claims(body: bytes) -> dict[str, Any]:
    try:
        answer = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        logger.warning("profile API answered no JSON", extra={"cause": "not JSON"})
        raise VerificationUnavailable(_SORRY) from exc
    if not isinstance(answer, dict):
        logger.warning("profile API answered no object", extra={"cause": "not an object"})
        raise VerificationUnavailable(_SORRY)
    if DATA_MEMBERS & answer.keys():
        return {name: answer[name] for name in DATA_MEMBERS & answer.keys()}
    return {"profile": answer}
