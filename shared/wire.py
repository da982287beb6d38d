"""The HTTP contract's names and shapes, shared by the services and their clients.

Imports nothing else of ours, so a customer's developer who loads :mod:`shared.client`
loads this and :mod:`shared.errors`, never the server side.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "CLIENT_ASSERTION_TYPE",
    "CLIENT_CREDENTIALS",
    "GRANT_TYPES",
    "JWT_BEARER",
    "RETRY_AFTER",
    "SCOPE_ENCRYPT",
    "Encrypted",
    "ItemError",
    "OAuthErrorCode",
]

#: RFC 7523 §2.1: a signed JWT exchanged for a bearer.
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: RFC 6749 §4.4, with a client assertion (RFC 7523 §2.2) as the client's credential.
CLIENT_CREDENTIALS: Final = "client_credentials"
GRANT_TYPES: Final = (JWT_BEARER, CLIENT_CREDENTIALS)
#: RFC 7523 §2.2 ``client_assertion_type``.
CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The one scope a bearer carries: the right to call the Crypto API's encrypt endpoints.
SCOPE_ENCRYPT: Final = "token:encrypt"
#: RFC 9068 §2.1 ``typ`` of the bearers the Authorization API issues.
ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a media type, not a secret
#: Seconds a client should wait after an outage answer (503), in ``Retry-After``.
RETRY_AFTER: Final = 5

#: The ``error`` values the Authorization API answers with: RFC 6749 §5.2, plus
#: ``slow_down`` (RFC 8628 §3.5) and ``temporarily_unavailable`` for outages.
OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unsupported_grant_type",
    "invalid_scope",
    "unauthorized_client",
    "slow_down",
    "temporarily_unavailable",
]


class Encrypted(msgspec.Struct, frozen=True):
    """A JWE and the key that sealed it (one answer of ``/v1/encrypt``, one batch item)."""

    token: str
    kid: str


class ItemError(msgspec.Struct, frozen=True):
    """Why one token of a batch was refused (a DESIGN §2 code)."""

    code: str
    detail: str
