"""Wire formats of the Crypto API, as msgspec Structs.

The request Structs are what the handlers decode bodies with, and the response Structs what
they return, so the OpenAPI document and the code share one definition. Problem bodies are
built by ``errors.problem``; :class:`Problem` describes them.

Every example token is visibly fake: real base64url JSON headers and claims, and segments
that decode to ``fake-…``.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from shared.web.examples import fake_jws, segment

__all__ = [
    "EXAMPLE_JWE",
    "EXAMPLE_JWS",
    "SINGLE_BODY_MAX",
    "AccountJwk",
    "AccountJwks",
    "BatchItem",
    "BatchItemError",
    "BatchRequest",
    "BatchResponse",
    "EncryptRequest",
    "EncryptResponse",
    "Liveness",
    "Problem",
    "Readiness",
]

#: One token (16 KiB at most) in JSON or raw: refuse anything bigger before reading it all.
SINGLE_BODY_MAX: Final = 32 * 1024
EXAMPLE_JWS: Final = fake_jws(
    {"alg": "ES256", "typ": "JWT"},
    {"sub": "participant-42", "campaignId": 1001, "exp": 1767225600},
)
EXAMPLE_JWE: Final = ".".join(
    segment(part)
    for part in (
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "acme/1", "cty": "JWT"},
        b"fake-encrypted-key",
        b"fake-iv-12b",
        b"fake-ciphertext",
        b"fake-tag-16bytes",
    )
)
_KID = Annotated[
    str,
    Meta(description="The key that sealed it: account id / key version.", examples=["acme/1"]),
]


class EncryptRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The JSON body of POST /v1/encrypt: one secure token."""

    token: Annotated[
        str,
        Meta(
            description="The secure token: a compact JWS signed for the bearer's account.",
            examples=[EXAMPLE_JWS],
        ),
    ]


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /v1/encrypt/batch: 1 to CRYPTO_BATCH_MAX (default 1000) tokens."""

    tokens: Annotated[
        list[str],
        Meta(
            description="Secure tokens (compact JWS), at least one; more than the maximum is "
            "refused with 413.",
            examples=[[EXAMPLE_JWS, EXAMPLE_JWS]],
        ),
    ]


class EncryptResponse(msgspec.Struct):
    """The JWE: the secure token, verified, then encrypted for the account."""

    token: Annotated[
        str,
        Meta(
            description="Compact JWE (alg RSA-OAEP-256, enc A256GCM, kid, cty JWT) whose "
            "plaintext is the secure token.",
            examples=[EXAMPLE_JWE],
        ),
    ]
    kid: _KID
    alg: Literal["RSA-OAEP-256"]
    enc: Literal["A256GCM"]


class BatchItemError(msgspec.Struct):
    """Why one token was refused."""

    code: Annotated[
        str,
        Meta(
            description="A secure-token code: TOKEN_EMPTY, TOKEN_INVALID_FORMAT, "
            "TOKEN_INVALID_SIGNATURE, TOKEN_EXPIRED or TOKEN_INVALID_CLAIMS.",
            examples=["TOKEN_INVALID_SIGNATURE"],
        ),
    ]
    detail: Annotated[str, Meta(description="What is wrong, for the developer.")]


class BatchItem(msgspec.Struct):
    """One token's result: ``token`` and ``kid`` when it was encrypted, else ``error``.

    One Struct with optional fields rather than a union of two: msgspec (and so Litestar's
    schema generation) only takes unions of tagged Structs, and the wire format has no tag.
    """

    token: Annotated[str | UnsetType, Meta(description="Compact JWE.", examples=[EXAMPLE_JWE])] = (
        UNSET
    )
    kid: Annotated[
        str | UnsetType,
        Meta(description="The key that sealed it: account id / key version.", examples=["acme/1"]),
    ] = UNSET
    error: Annotated[
        BatchItemError | UnsetType, Meta(description="Why it was refused; the others are not.")
    ] = UNSET


class BatchResponse(msgspec.Struct):
    """One result per token, in input order."""

    results: list[BatchItem]
    succeeded: Annotated[int, Meta(description="How many items were encrypted.")]
    failed: Annotated[int, Meta(description="How many items were refused.")]


class AccountJwk(msgspec.Struct):
    """A public encryption key of the account (a live Vault Transit key version)."""

    kty: Literal["RSA"]
    n: str
    e: str
    kid: _KID
    use: Literal["enc"]
    alg: Literal["RSA-OAEP-256"]


class AccountJwks(msgspec.Struct):
    """RFC 7517 JWK set: the account's live encryption keys, latest first."""

    keys: list[AccountJwk]


class Problem(msgspec.Struct):
    """RFC 9457 problem details, with our machine-readable ``code``."""

    type: Annotated[
        Literal["about:blank"], Meta(description="No problem types of our own: see code.")
    ]
    title: Annotated[str, Meta(description="The kind of problem, for humans.")]
    status: Annotated[int, Meta(description="The HTTP status.")]
    detail: Annotated[str, Meta(description="What is wrong and what to do, for the developer.")]
    code: Annotated[
        str,
        Meta(
            description="Why, machine-readable: REQUEST_INVALID, PAYLOAD_TOO_LARGE, "
            "BEARER_INVALID, INSUFFICIENT_SCOPE, ACCOUNT_DISABLED, ACCOUNT_NOT_FOUND, "
            "RATE_LIMITED, a secure-token code (TOKEN_EMPTY, TOKEN_INVALID_FORMAT, "
            "TOKEN_INVALID_SIGNATURE, TOKEN_EXPIRED, TOKEN_INVALID_CLAIMS), JWKS_REFUSED "
            "(the account's JWKS endpoint refuses us: fix it), UNKNOWN or JWKS_UNAVAILABLE "
            "(retry), NOT_FOUND, METHOD_NOT_ALLOWED, INTERNAL.",
            examples=["TOKEN_EXPIRED"],
        ),
    ]


class Liveness(msgspec.Struct):
    """The process is up."""

    status: Literal["ok"]


class Readiness(msgspec.Struct):
    """Ready, and whether Vault answers or cached keys are being served."""

    status: Literal["ready"]
    vault: Literal["ok", "unavailable, serving cached keys"]
