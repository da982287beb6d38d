"""The Authorization API's OpenAPI document: each route's responses, the token request's
form and the headers (why Litestar cannot infer them: :mod:`shared.web.openapi`).

The token endpoint parses its form by hand, for precise RFC 6749 errors; its two grants
are documented from the Structs of ``schemas.py``. The checked-in ``openapi/authz-api.json``
is what every deployment serves, so nothing here depends on the settings.
"""

from __future__ import annotations

from typing import Final

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Example, OpenAPIHeader, OpenAPIMediaType, RequestBody, Tag

from authz_api.schemas import (
    EXAMPLE_ASSERTION,
    EXAMPLE_BEARER,
    EXAMPLE_CLIENT_ASSERTION,
    EXAMPLE_ISSUER,
    MAX_BODY_BYTES,
    AuthorizationServerMetadata,
    ClientCredentialsGrant,
    Health,
    JwkSet,
    JwtBearerGrant,
    OAuthErrorResponse,
    TokenResponse,
)
from shared.web.body_limits import kib, too_large
from shared.web.headers import CACHEABLE, STRING, header
from shared.web.headers import NO_STORE as NO_STORE_VALUE
from shared.web.openapi import SCALAR_VERSION, DocumentedOperation, StructSchema, ok
from shared.web.openapi import openapi_config as app_openapi_config

__all__ = [
    "HEALTH_READY_RESPONSES",
    "HEALTH_RESPONSES",
    "JWKS_RESPONSES",
    "METADATA_RESPONSES",
    "SCALAR_VERSION",
    "TOKEN_RESPONSES",
    "DocumentedOperation",
    "JwksOperation",
    "TokenOperation",
    "openapi_config",
]

_FORM: Final = "application/x-www-form-urlencoded"
#: RFC 6749 §5.1: token responses, good or bad, must not be cached.
NO_STORE: Final = {
    "Cache-Control": header("Never cache a token response.", STRING, NO_STORE_VALUE),
    "Pragma": header("For HTTP/1.0 caches.", STRING, "no-cache"),
}


class TokenOperation(DocumentedOperation):
    """``POST /oauth/token``: the form of either grant; every answer is no-store."""

    body = RequestBody(
        required=True,
        description="The token request, form-encoded (RFC 6749 §4.5): one of the two grants. "
        "Each parameter may appear once; unknown ones are ignored.",
        content={
            _FORM: OpenAPIMediaType(
                schema=StructSchema(JwtBearerGrant, ClientCredentialsGrant),
                examples={
                    "jwt-bearer": Example(
                        summary="Exchange a secure token (jwt-bearer grant)",
                        value={
                            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                            "assertion": EXAMPLE_ASSERTION,
                            "client_id": "acme",
                        },
                    ),
                    "client-credentials": Example(
                        summary="Authenticate with a client assertion (private_key_jwt)",
                        value={
                            "grant_type": "client_credentials",
                            "client_assertion_type": (
                                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                            ),
                            "client_assertion": EXAMPLE_CLIENT_ASSERTION,
                        },
                    ),
                },
            )
        },
    )

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """No-store on every answer, plus Retry-After on 429 and 503."""
        return {**NO_STORE, **super().headers_for(status)}


class JwksOperation(DocumentedOperation):
    """``GET /.well-known/jwks.json``: cacheable for a minute."""

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """Cache-Control on the key set; an error is no-store (as every OAuth error
        answer is) with Retry-After on 503."""
        if status == "200":
            return {"Cache-Control": CACHEABLE}
        return {**NO_STORE, **super().headers_for(status)}


def _error(description: str, *examples: tuple[str, dict[str, str]]) -> ResponseSpec:
    """An RFC 6749 §5.2 error response, with (summary, body) examples."""
    return ResponseSpec(
        OAuthErrorResponse,
        description=description,
        generate_examples=False,
        examples=[Example(summary=summary, value=value) for summary, value in examples],
    )


_INTERNAL = _error(
    "An unexpected failure (logged on our side).",
    (
        "Internal error",
        {"error": "server_error", "error_description": "unexpected error; it has been logged"},
    ),
)
_UNAVAILABLE_DESCRIPTION = (
    "Vault (or the replay store) cannot be reached now: not the request's fault; retry "
    "after Retry-After seconds."
)

TOKEN_RESPONSES: Final = {
    200: ok(
        TokenResponse,
        "A bearer for the Crypto API",
        {
            "access_token": EXAMPLE_BEARER,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "token:encrypt",
        },
    ),
    400: _error(
        "The request is refused: malformed (invalid_request), a refused assertion "
        "(invalid_grant, with the secure token's code), an unknown grant type "
        "(unsupported_grant_type) or scope (invalid_scope), or a jwt-bearer grant the "
        "account turned off (unauthorized_client).",
        (
            "Not a form",
            {
                "error": "invalid_request",
                "error_description": "send the parameters as application/x-www-form-urlencoded,"
                " not application/json",
            },
        ),
        (
            "Expired secure token",
            {
                "error": "invalid_grant",
                "error_description": "the assertion was refused: token expired",
                "code": "TOKEN_EXPIRED",
            },
        ),
        (
            "Unknown grant type",
            {
                "error": "unsupported_grant_type",
                "error_description": "grant_type must be one of "
                "['urn:ietf:params:oauth:grant-type:jwt-bearer', 'client_credentials']",
            },
        ),
        (
            "Unknown scope",
            {"error": "invalid_scope", "error_description": "the only scope is 'token:encrypt'"},
        ),
        (
            "Grant turned off",
            {
                "error": "unauthorized_client",
                "error_description": "this account does not allow the jwt-bearer grant: use "
                "client_credentials with a client assertion",
            },
        ),
    ),
    401: _error(
        "Client authentication failed (invalid_client): an unknown or disabled client_id, a "
        "refused client assertion, or a client assertion used before (replayed jti).",
        (
            "Unknown or disabled client",
            {"error": "invalid_client", "error_description": "unknown or disabled client_id"},
        ),
        (
            "Replayed client assertion",
            {
                "error": "invalid_client",
                "error_description": "this client assertion was used already: make a new one"
                " (new jti) per request",
                "code": "TOKEN_INVALID_CLAIMS",
            },
        ),
    ),
    413: _error(
        f"The body is over {kib(MAX_BODY_BYTES)} (invalid_request); it was not read.",
        (
            "Body too large",
            {"error": "invalid_request", "error_description": too_large(MAX_BODY_BYTES)},
        ),
    ),
    429: _error(
        "Too many token requests for this client, with this assertion or from this address "
        "(slow_down, RFC 8628): "
        "retry after Retry-After seconds.",
        (
            "Rate limited",
            {
                "error": "slow_down",
                "error_description": "too many token requests for this client; retry later",
                "code": "RATE_LIMITED",
            },
        ),
    ),
    500: _INTERNAL,
    503: _error(
        _UNAVAILABLE_DESCRIPTION,
        (
            "Vault unreachable",
            {
                "error": "temporarily_unavailable",
                "error_description": "the service cannot complete this now (VAULT_UNAVAILABLE);"
                " retry in a few seconds",
                "code": "VAULT_UNAVAILABLE",
            },
        ),
    ),
}

JWKS_RESPONSES: Final = {
    200: ok(
        JwkSet,
        "The keys that verify bearers",
        {
            "keys": [
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "x": "ZmFrZS14LWNvb3JkaW5hdGUtb2YtMzItYnl0ZXMhISE",
                    "y": "ZmFrZS15LWNvb3JkaW5hdGUtb2YtMzItYnl0ZXMhISE",
                    "kid": "example-kid",
                    "use": "sig",
                    "alg": "ES256",
                }
            ]
        },
    ),
    500: _INTERNAL,
    503: _error(
        "The signing keys cannot be read from Vault and none are cached; retry after "
        "Retry-After seconds.",
        (
            "Vault unreachable",
            {
                "error": "temporarily_unavailable",
                "error_description": "the signing keys cannot be read now (VAULT_UNAVAILABLE);"
                " retry in a few seconds",
                "code": "VAULT_UNAVAILABLE",
            },
        ),
    ),
}

METADATA_RESPONSES: Final = {
    200: ok(
        AuthorizationServerMetadata,
        "The server's metadata",
        {
            "issuer": EXAMPLE_ISSUER,
            "token_endpoint": f"{EXAMPLE_ISSUER}/oauth/token",
            "jwks_uri": f"{EXAMPLE_ISSUER}/.well-known/jwks.json",
            "grant_types_supported": [
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "client_credentials",
            ],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "HS256", "RS256"],
            "scopes_supported": ["token:encrypt"],
            "response_types_supported": [],
        },
    ),
}

HEALTH_RESPONSES: Final = {200: ok(Health, "The process is up", {"status": "ok"})}

HEALTH_READY_RESPONSES: Final = {
    200: ok(Health, "Ready to issue bearers", {"status": "ready"}),
    503: ResponseSpec(
        Health,
        description="Not ready: Vault or the signing key is unavailable, or the signers are down.",
        generate_examples=False,
        examples=[
            Example(
                summary="Vault down", value={"status": "unavailable", "code": "VAULT_UNAVAILABLE"}
            )
        ],
    ),
}

_DESCRIPTION = """\
Exchanges a customer's signed **secure token** (a JWS) for a short-lived **bearer**: an
RFC 9068 JWT access token, signed in Vault, that the Crypto API accepts with scope
`token:encrypt`.

* `POST /oauth/token` takes the RFC 7523 grants, form-encoded: `jwt-bearer` (the secure
  token as `assertion`, with `client_id`) or `client_credentials` with a client assertion
  (`private_key_jwt` / `client_secret_jwt`). There is no HTTP authentication: the client
  proves who it is with the JWT in the body, signed with the account's own key or secret.
* Errors are RFC 6749 §5.2 JSON (`error`, `error_description`) with our `code` when a token
  was refused: the secure-token codes (`TOKEN_EXPIRED`, `TOKEN_INVALID_SIGNATURE`…) or an
  infrastructure one. 429 and 503 carry `Retry-After`. A wrong method is 405 (with `Allow`)
  and an unknown path 404, in the same JSON shape.
* Bearers verify with `/.well-known/jwks.json`; the server describes itself at
  `/.well-known/oauth-authorization-server` (RFC 8414).
"""


def openapi_config() -> OpenAPIConfig:
    """The OpenAPI configuration: document metadata and the docs pages under ``/schema``."""
    return app_openapi_config(
        "Authorization API",
        _DESCRIPTION,
        [
            Tag(name="OAuth", description="The token endpoint (RFC 6749, RFC 7523)."),
            Tag(name="Discovery", description="What clients and the Crypto API fetch."),
        ],
    )
