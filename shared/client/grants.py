"""How the client asks the Authorization API for a bearer (RFC 7523): the secure token
itself as a ``jwt-bearer`` assertion, or ``client_credentials`` with a client assertion
signed by the customer's key."""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from shared.wire import CLIENT_ASSERTION_TYPE, CLIENT_CREDENTIALS, JWT_BEARER

__all__ = ["ClientAssertionGrant", "Grant", "JwtBearerGrant"]


class Grant(Protocol):
    """How to ask the Authorization API for a bearer."""

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        """Token request forms to try in turn; the client asks for the next one only after
        the previous was refused with ``invalid_grant``."""
        ...


class JwtBearerGrant:
    """RFC 7523 §2.1: a secure token (JWS) of the account is the assertion.

    Several candidates may be given (e.g. the first tokens of a file): those the
    Authorization API refuses are dropped, the first accepted one is reused for refreshes.
    """

    def __init__(self, assertions: Sequence[str]) -> None:
        self._assertions = deque(assertions)

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        """One form per remaining candidate."""
        while self._assertions:
            yield {
                "grant_type": JWT_BEARER,
                "client_id": client_id,
                "assertion": self._assertions[0],
            }
            # Resumed only when that one was refused: never offer it again.
            self._assertions.popleft()


class ClientAssertionGrant:
    """RFC 7523 §2.2 ``client_credentials``: a fresh client assertion per request, signed
    with the account's key (``private_key_jwt``) or HMAC secret (``client_secret_jwt``):
    ``iss`` = ``sub`` = the account, ``aud`` = the token endpoint, a short ``exp`` and a
    random, single-use ``jti``."""

    def __init__(
        self,
        key: RSAKey | ECKey | OctKey,
        alg: str,
        *,
        kid: str | None = None,
        lifetime: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._alg = alg
        self._kid = kid
        self._lifetime = lifetime
        self._clock = clock

    def assertion(self, client_id: str, token_endpoint: str) -> str:
        """A newly signed client assertion."""
        now = int(self._clock())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": token_endpoint,
            "iat": now,
            "exp": now + self._lifetime,
            "jti": secrets.token_urlsafe(18),
        }
        header: dict[str, Any] = {"alg": self._alg}
        if self._kid:
            header["kid"] = self._kid
        return jwt.encode(header, claims, self._key, algorithms=[self._alg])

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        """A single form: another assertion of the same key would be refused the same way."""
        yield {
            "grant_type": CLIENT_CREDENTIALS,
            "client_id": client_id,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.assertion(client_id, token_endpoint),
        }
