"""The Crypto API's documented answers: every route's responses, problems and examples
(the operations that carry them are in :mod:`crypto_api.openapi`)."""

from __future__ import annotations

from typing import Final

from litestar.openapi import ResponseSpec

from crypto_api.errors import TOO_LARGE_TITLE
from crypto_api.schemas import (
    EXAMPLE_JWE,
    SINGLE_BODY_MAX,
    AccountJwks,
    BatchResponse,
    EncryptResponse,
    Liveness,
    Problem,
    Readiness,
)
from shared.web.body_limits import kib, too_large
from shared.web.openapi import ProblemExample, ok, problem

__all__ = [
    "ACCOUNT_JWKS_RESPONSES",
    "BATCH_RESPONSES",
    "ENCRYPT_RESPONSES",
    "HEALTH_READY_RESPONSES",
    "HEALTH_RESPONSES",
]


def _problem(description: str, *examples: ProblemExample) -> ResponseSpec:
    """A problem response of this API (its :class:`Problem`)."""
    return problem(Problem, description, *examples)


_400 = _problem(
    "The body is not what the operation takes (REQUEST_INVALID).",
    (
        "Not the expected JSON",
        400,
        "Invalid request",
        "REQUEST_INVALID",
        'the body must be JSON like {"token": "<JWS>"}: Object missing required field `token`',
    ),
)
_401 = _problem(
    "No bearer, or one that is not valid here: malformed, expired, wrongly signed, from "
    "another issuer or for another audience (BEARER_INVALID). Get one from the "
    "Authorization API.",
    (
        "No bearer",
        401,
        "Bearer token refused",
        "BEARER_INVALID",
        "send 'Authorization: Bearer <access token>' (RFC 6750)",
    ),
    (
        "Expired bearer",
        401,
        "Bearer token refused",
        "BEARER_INVALID",
        "bearer expired: get a new one from the Authorization API",
    ),
)
_403 = _problem(
    "A valid bearer without the scope token:encrypt (INSUFFICIENT_SCOPE), or for an account "
    "disabled since it was issued (ACCOUNT_DISABLED).",
    (
        "Scope missing",
        403,
        "Bearer lacks the needed scope",
        "INSUFFICIENT_SCOPE",
        "this call needs the scope 'token:encrypt'",
    ),
    ("Account disabled", 403, "Account disabled", "ACCOUNT_DISABLED", "this account is disabled"),
)
_413_BODY = ("Body too large", 413, TOO_LARGE_TITLE, "PAYLOAD_TOO_LARGE", too_large())
_JWKS_REFUSED = (
    "The account's JWKS endpoint refuses",
    422,
    "Account's JWKS endpoint refused",
    "JWKS_REFUSED",
    "the account's JWKS endpoint answered HTTP 404: its URL is wrong or closed to us, "
    "and retrying will not help; fix the endpoint or the account's jwks_uri",
)
_429_TEXT = (
    "Too many calls for this account (single calls and the tokens of batches have budgets "
    "of their own; the detail names the limit): retry after Retry-After seconds "
    "(RATE_LIMITED)."
)
_429 = _problem(
    _429_TEXT,
    (
        "Rate limited",
        429,
        "Too many requests",
        "RATE_LIMITED",
        "this account's rate limit is 500 calls/s (burst 1000) per instance; retry later",
    ),
)
_429_BATCH = _problem(
    _429_TEXT,
    (
        "Rate limited",
        429,
        "Too many requests",
        "RATE_LIMITED",
        "this account's rate limit is 5000 batch tokens/s (burst 10000) per instance; retry later",
    ),
)
_500 = _problem(
    "An unexpected failure (logged on our side).",
    ("Internal error", 500, "Internal error", "INTERNAL", "unexpected error; it has been logged"),
)
_503_VAULT = (
    "Vault unreachable",
    503,
    "Temporarily unavailable",
    "UNKNOWN",
    "cannot read the account now (VAULT_UNAVAILABLE); retry later",
)
_503 = _problem(
    "Not the request's fault: Vault cannot be asked for what is not cached (UNKNOWN), or the "
    "Authorization API's keys cannot be fetched (JWKS_UNAVAILABLE); retry after Retry-After "
    "seconds.",
    _503_VAULT,
    (
        "Authorization API keys unavailable",
        503,
        "Temporarily unavailable",
        "JWKS_UNAVAILABLE",
        "JWKS endpoint unreachable: ConnectionError",
    ),
)

ENCRYPT_RESPONSES: Final = {
    200: ok(
        EncryptResponse,
        "The JWE (as application/jwt when the request was, or asked for it with Accept)",
        {"token": EXAMPLE_JWE, "kid": "acme/1", "alg": "RSA-OAEP-256", "enc": "A256GCM"},
    ),
    400: _400,
    401: _401,
    403: _403,
    413: _problem(f"The body is over {kib(SINGLE_BODY_MAX)}; it was not read.", _413_BODY),
    422: _problem(
        "The secure token is refused, as the campaign player would refuse it; `code` says "
        "why (TOKEN_EMPTY, TOKEN_INVALID_FORMAT, TOKEN_INVALID_SIGNATURE, TOKEN_EXPIRED, "
        "TOKEN_INVALID_CLAIMS); or it cannot be checked because the account's JWKS endpoint "
        "refuses us (JWKS_REFUSED: a redirect or a 4xx; fix the account, do not retry).",
        ("Expired token", 422, "Token refused", "TOKEN_EXPIRED", "token expired 120 s ago"),
        _JWKS_REFUSED,
        (
            "Wrong key",
            422,
            "Token refused",
            "TOKEN_INVALID_SIGNATURE",
            "signature does not verify",
        ),
    ),
    429: _429,
    500: _500,
    503: _503,
}

BATCH_RESPONSES: Final = {
    200: ok(
        BatchResponse,
        "One result per token, in order",
        {
            "results": [
                {"token": EXAMPLE_JWE, "kid": "acme/1"},
                {
                    "error": {
                        "code": "TOKEN_INVALID_FORMAT",
                        "detail": "not a compact JWS or JWE (3 or 5 dot-separated parts)",
                    }
                },
            ],
            "succeeded": 1,
            "failed": 1,
        },
    ),
    400: _problem(
        'The body is not {"tokens": [...]}, or the list is empty (REQUEST_INVALID).',
        ("Empty batch", 400, "Invalid request", "REQUEST_INVALID", "'tokens' is empty"),
    ),
    401: _401,
    403: _403,
    413: _problem(
        "More tokens than CRYPTO_BATCH_MAX (default 1000), or a body too large to hold "
        "them (PAYLOAD_TOO_LARGE).",
        (
            "Too many tokens",
            413,
            TOO_LARGE_TITLE,
            "PAYLOAD_TOO_LARGE",
            "at most 1000 tokens per batch",
        ),
        _413_BODY,
    ),
    422: _problem(
        "The account's JWKS endpoint refuses us (JWKS_REFUSED: a redirect or a 4xx): every "
        "token would fail alike, so the batch is refused once; fix the account, do not retry.",
        _JWKS_REFUSED,
    ),
    429: _429_BATCH,
    500: _500,
    503: _problem(
        "What every item needs (the account's key, Vault, the Authorization API's keys) is "
        "unavailable: the whole batch is refused once (UNKNOWN, JWKS_UNAVAILABLE); retry "
        "after Retry-After seconds.",
        _503_VAULT,
    ),
}

ACCOUNT_JWKS_RESPONSES: Final = {
    200: ok(
        AccountJwks,
        "The account's encryption keys",
        {
            "keys": [
                {
                    "kty": "RSA",
                    "n": "ZmFrZS1yc2EtbW9kdWx1cw",
                    "e": "AQAB",
                    "kid": "acme/1",
                    "use": "enc",
                    "alg": "RSA-OAEP-256",
                }
            ]
        },
    ),
    404: _problem(
        "No active account with this id (ACCOUNT_NOT_FOUND): unknown, disabled and malformed "
        "ids look the same.",
        (
            "Unknown account",
            404,
            "No such account",
            "ACCOUNT_NOT_FOUND",
            "account 'nobody' is unknown or disabled",
        ),
    ),
    429: _problem(
        "This address asked for key sets too often (RATE_LIMITED, per address: "
        "`CRYPTO_JWKS_RATE_LIMIT_*`): wait Retry-After seconds. A key set is cacheable for a "
        "minute.",
        (
            "Rate limited",
            429,
            "Too many requests",
            "RATE_LIMITED",
            "this address may fetch 5 key sets/s (burst 20) per instance; retry later",
        ),
    ),
    500: _500,
    503: _problem(
        "Vault cannot be asked and the keys are not cached (UNKNOWN); retry after "
        "Retry-After seconds.",
        _503_VAULT,
    ),
}

HEALTH_RESPONSES: Final = {200: ok(Liveness, "The process is up", {"status": "ok"})}

HEALTH_READY_RESPONSES: Final = {
    200: ok(Readiness, "Ready", {"status": "ready", "vault": "ok"}),
    503: _problem(
        "Not ready: the Authorization API's keys are unusable (JWKS_UNAVAILABLE), or Vault "
        "is down with no keys cached (VAULT_…).",
        (
            "Authorization API keys unavailable",
            503,
            "Not ready",
            "JWKS_UNAVAILABLE",
            "JWKS endpoint unreachable: ConnectionError",
        ),
    ),
}
