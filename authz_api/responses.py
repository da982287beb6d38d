"""The Authorization API's documented answers: every route's responses, RFC 6749 errors
and examples (the operations that carry them are in :mod:`authz_api.openapi`)."""

from __future__ import annotations

from typing import Final

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example

from authz_api.errors import HeaderAuthRefused
from authz_api.schemas import (
    EXAMPLE_BEARER,
    EXAMPLE_ISSUER,
    MAX_BODY_BYTES,
    AuthorizationServerMetadata,
    Health,
    JwkSet,
    OAuthErrorResponse,
    TokenResponse,
)
from shared.web.body_limits import kib, too_large
from shared.web.openapi import ok

__all__ = [
    "HEALTH_READY_RESPONSES",
    "HEALTH_RESPONSES",
    "JWKS_RESPONSES",
    "METADATA_RESPONSES",
    "TOKEN_RESPONSES",
]


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
    "Vault, the replay store or the account's JWKS endpoint (timed out, unreachable, 5xx) "
    "cannot be used now, as the description names: not the request's fault; retry after "
    "Retry-After seconds."
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
            "The account's JWKS endpoint refuses",
            {
                "error": "invalid_grant",
                "error_description": "the assertion was refused: the account's JWKS endpoint "
                "answered HTTP 404: its URL is wrong or closed to us, and retrying will not "
                "help; fix the endpoint or the account's jwks_uri",
                "code": "JWKS_REFUSED",
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
        "refused client assertion, a client assertion used before (replayed jti), or "
        "credentials in the Authorization header (HTTP Basic is not supported: the answer "
        "then carries WWW-Authenticate).",
        (
            "Unknown or disabled client",
            {"error": "invalid_client", "error_description": "unknown or disabled client_id"},
        ),
        (
            "HTTP Basic credentials",
            {
                "error": "invalid_client",
                "error_description": HeaderAuthRefused("Basic").description,
            },
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
                "error_description": "the service cannot complete this now (VAULT_UNAVAILABLE):"
                " Vault is unavailable; retry in a few seconds",
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
