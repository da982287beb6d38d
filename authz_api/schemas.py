"""Wire formats of the Authorization API, as msgspec Structs (field names follow the RFCs).

The handlers return the response Structs, so the OpenAPI document and the code share one
definition. The token request is parsed by hand (``routes.parse_form``, for precise RFC 6749
errors); its two Structs only describe the form in the document. Error bodies are built by
``errors.py``; :class:`OAuthErrorResponse` describes them.

Every example token is visibly fake: real base64url JSON headers and claims, and a last
segment that decodes to ``fake-signature``.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from shared.web.examples import fake_jws
from shared.wire import OAuthErrorCode as ServiceErrorCode

__all__ = [
    "EXAMPLE_ASSERTION",
    "EXAMPLE_BEARER",
    "EXAMPLE_CLIENT_ASSERTION",
    "EXAMPLE_ISSUER",
    "MAX_BODY_BYTES",
    "AuthorizationServerMetadata",
    "ClientCredentialsGrant",
    "Health",
    "Jwk",
    "JwkSet",
    "JwtBearerGrant",
    "OAuthErrorCode",
    "OAuthErrorResponse",
    "TokenResponse",
]


#: A token request is a few KiB at most (tokens are capped at 16 KiB).
MAX_BODY_BYTES: Final = 64 * 1024
#: The issuer in examples (never the deployment's: the document must not depend on settings).
EXAMPLE_ISSUER: Final = "https://authz.example.com"
EXAMPLE_ASSERTION: Final = fake_jws(
    {"alg": "ES256", "typ": "JWT"},
    {"sub": "participant-42", "campaignId": 1001, "exp": 1767225600},
)
EXAMPLE_CLIENT_ASSERTION: Final = fake_jws(
    {"alg": "ES256", "typ": "JWT"},
    {
        "iss": "acme",
        "sub": "acme",
        "aud": f"{EXAMPLE_ISSUER}/oauth/token",
        "iat": 1767225540,
        "exp": 1767225600,
        "jti": "5b0f3c7e-example-jti",
    },
)
EXAMPLE_BEARER: Final = fake_jws(
    {"alg": "ES256", "typ": "at+jwt", "kid": "example-kid"},
    {
        "iss": EXAMPLE_ISSUER,
        "sub": "acme",
        "client_id": "acme",
        "aud": "crypto-api",
        "scope": "token:encrypt",
        "iat": 1767225300,
        "exp": 1767225600,
        "jti": "example-jti",
    },
)

_SCOPE = Annotated[
    Literal["token:encrypt"],
    Meta(description="Optional: the only scope there is, and the one granted by default."),
]


class JwtBearerGrant(msgspec.Struct):
    """RFC 7523 §2.1: a secure token signed by the customer, exchanged for a bearer."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion: Annotated[
        str,
        Meta(
            description="The secure token (a compact JWS) signed with the account's key, "
            "verified like the campaign player does, except for the campaign.",
            examples=[EXAMPLE_ASSERTION],
        ),
    ]
    client_id: Annotated[str, Meta(description="The account id.", examples=["acme"])]
    scope: _SCOPE = "token:encrypt"


class ClientCredentialsGrant(msgspec.Struct):
    """RFC 7523 §2.2: the client authenticates with a JWT (private_key_jwt or
    client_secret_jwt) signed with the account's key."""

    grant_type: Literal["client_credentials"]
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    client_assertion: Annotated[
        str,
        Meta(
            description="A JWT with iss = sub = the account id, aud = the token endpoint or "
            "the issuer, exp a few minutes ahead, and a jti used only once.",
            examples=[EXAMPLE_CLIENT_ASSERTION],
        ),
    ]
    client_id: Annotated[
        str | UnsetType,
        Meta(
            description="Optional: the account id (by default the assertion's sub).",
            examples=["acme"],
        ),
    ] = UNSET
    scope: _SCOPE = "token:encrypt"


class TokenResponse(msgspec.Struct):
    """RFC 6749 §5.1 access token response."""

    access_token: Annotated[
        str,
        Meta(
            description="The bearer: an RFC 9068 JWT access token (ES256, typ at+jwt) for "
            "the Crypto API, verifiable with this API's JWKS.",
            examples=[EXAMPLE_BEARER],
        ),
    ]
    token_type: Literal["Bearer"]
    expires_in: Annotated[int, Meta(description="Seconds the bearer is valid for.", examples=[300])]
    scope: Annotated[str, Meta(description="The granted scope.", examples=["token:encrypt"])]


#: What an error body may say: the service's errors (:data:`shared.wire.OAuthErrorCode`), and
#: ``server_error`` (RFC 6749 §4.1.2.1) for our own unexpected failures.
OAuthErrorCode = Literal[ServiceErrorCode, "server_error"]


class OAuthErrorResponse(msgspec.Struct):
    """RFC 6749 §5.2 error response, with our token error code."""

    error: Annotated[
        OAuthErrorCode,
        Meta(description="RFC 6749 §5.2 error; slow_down (RFC 8628) when rate limited."),
    ]
    error_description: Annotated[
        str | UnsetType, Meta(description="What to fix, for the developer.")
    ] = UNSET
    code: Annotated[
        str | UnsetType,
        Meta(
            description="Why, as a machine-readable code: a secure-token code (TOKEN_EMPTY, "
            "TOKEN_INVALID_FORMAT, TOKEN_INVALID_SIGNATURE, TOKEN_EXPIRED, "
            "TOKEN_INVALID_CLAIMS, TOKEN_DECRYPTION_FAILED, UNKNOWN) or an infrastructure "
            "one (RATE_LIMITED, VAULT_UNAVAILABLE, VAULT_SEALED, "
            "REPLAY_STORE_UNAVAILABLE…). Absent when the error says it all.",
            examples=["TOKEN_EXPIRED"],
        ),
    ] = UNSET


class Jwk(msgspec.Struct):
    """A public key that verifies bearers (a version of the Vault signing key)."""

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str
    y: str
    kid: Annotated[str, Meta(description="The key's RFC 7638 thumbprint.")]
    use: Literal["sig"]
    alg: Literal["ES256"]


class JwkSet(msgspec.Struct):
    """RFC 7517 JWK set: the latest signing key first, older ones while bearers they
    signed may still be valid."""

    keys: list[Jwk]


class AuthorizationServerMetadata(msgspec.Struct):
    """RFC 8414 authorization server metadata."""

    issuer: Annotated[str, Meta(examples=[EXAMPLE_ISSUER])]
    token_endpoint: Annotated[str, Meta(examples=[f"{EXAMPLE_ISSUER}/oauth/token"])]
    jwks_uri: Annotated[str, Meta(examples=[f"{EXAMPLE_ISSUER}/.well-known/jwks.json"])]
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    scopes_supported: list[str]
    response_types_supported: Annotated[
        list[str], Meta(description="Empty: there is no authorization endpoint.")
    ]


class Health(msgspec.Struct):
    """Liveness or readiness."""

    status: Literal["ok", "ready", "unavailable"]
    code: Annotated[
        str | UnsetType,
        Meta(
            description="Why not ready (VAULT_UNAVAILABLE, SIGNER_DOWN…).",
            examples=["VAULT_UNAVAILABLE"],
        ),
    ] = UNSET
