"""The Crypto API's OpenAPI document: each route's problems, bodies and headers, the bearer
security scheme and the ``application/jwt`` answer (why Litestar cannot infer them:
:mod:`shared.web.openapi`).

Handlers read raw bodies, JSON or ``application/jwt``, for precise error codes. The
checked-in ``openapi/crypto-api.json`` is what every deployment serves, so nothing here
depends on the settings.
"""

from __future__ import annotations

from typing import Final

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
    Tag,
)

from crypto_api.schemas import (
    EXAMPLE_JWE,
    EXAMPLE_JWS,
    SINGLE_BODY_MAX,
    AccountJwks,
    BatchRequest,
    BatchResponse,
    EncryptRequest,
    EncryptResponse,
    Liveness,
    Problem,
    Readiness,
)
from shared.web.body_limits import kib, too_large
from shared.web.headers import CACHEABLE, RETRY_AFTER_HEADER, STRING, header
from shared.web.headers import NO_STORE as NO_STORE_VALUE
from shared.web.openapi import SCALAR_VERSION, StructSchema, ok
from shared.web.openapi import DocumentedOperation as BaseOperation
from shared.web.openapi import openapi_config as app_openapi_config
from shared.wire import SCOPE_ENCRYPT

__all__ = [
    "ACCOUNT_JWKS_RESPONSES",
    "BATCH_RESPONSES",
    "ENCRYPT_RESPONSES",
    "ENCRYPT_SECURITY",
    "HEALTH_READY_RESPONSES",
    "HEALTH_RESPONSES",
    "SCALAR_VERSION",
    "AccountJwksOperation",
    "BatchOperation",
    "DocumentedOperation",
    "EncryptOperation",
    "openapi_config",
]

_JSON: Final = "application/json"
_JWT: Final = "application/jwt"
_PROBLEM: Final = "application/problem+json"
_BEARER: Final = "bearerAuth"
#: What the encrypt operations require: a bearer with this scope.
ENCRYPT_SECURITY: Final[list[SecurityRequirement]] = [{_BEARER: [SCOPE_ENCRYPT]}]

NO_STORE: Final = header("Never cache: the answer is about this request.", STRING, NO_STORE_VALUE)
CHALLENGE_401: Final = header(
    "RFC 6750 §3 challenge: no error code when no bearer was sent.",
    STRING,
    'Bearer realm="crypto-api", error="invalid_token"',
)
CHALLENGE_403: Final = header(
    "RFC 6750 §3 challenge: `insufficient_scope` naming the scope when the bearer lacks it; "
    'for a disabled account `Bearer realm="crypto-api"`, naming no error (the bearer has '
    "the scope; the body's code says why).",
    STRING,
    f'Bearer realm="crypto-api", error="insufficient_scope", scope="{SCOPE_ENCRYPT}"',
)


class DocumentedOperation(BaseOperation):
    """An operation answering problems: every problem is no-store; 401 and 403 carry the
    bearer challenge, 429 and 503 Retry-After."""

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """The headers of the ``status`` response."""
        if int(status) < 400:
            return {}
        headers = {"Cache-Control": NO_STORE}
        if status in ("401", "403"):
            headers["WWW-Authenticate"] = CHALLENGE_401 if status == "401" else CHALLENGE_403
        if status in ("429", "503"):
            headers["Retry-After"] = RETRY_AFTER_HEADER
        return headers


class EncryptOperation(DocumentedOperation):
    """``POST /v1/encrypt``: a JSON or raw JWS in; a JSON or raw JWE out."""

    body = RequestBody(
        required=True,
        description="The secure token, as JSON or as the whole body (`application/jwt`). "
        "Any other content type is read as JSON.",
        content={
            _JSON: OpenAPIMediaType(
                schema=StructSchema(EncryptRequest),
                examples={"json": Example(summary="A JWS in JSON", value={"token": EXAMPLE_JWS})},
            ),
            _JWT: OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.STRING,
                    description="The compact JWS, alone (surrounding whitespace is ignored); "
                    "the answer is then application/jwt too.",
                ),
                examples={"raw": Example(summary="A raw JWS", value=EXAMPLE_JWS)},
            ),
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content[_JWT] = OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description="The compact JWE, alone."),
                examples={"raw": Example(summary="A raw JWE", value=EXAMPLE_JWE)},
            )

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """No-store on the JWE too."""
        return {"Cache-Control": NO_STORE} if status == "200" else super().headers_for(status)


class BatchOperation(DocumentedOperation):
    """``POST /v1/encrypt/batch``: JSON in and out."""

    body = RequestBody(
        required=True,
        description="The secure tokens, as JSON (any content type is read as JSON).",
        content={
            _JSON: OpenAPIMediaType(
                schema=StructSchema(BatchRequest),
                examples={
                    "batch": Example(
                        summary="Two JWS in JSON", value={"tokens": [EXAMPLE_JWS, "not-a-token"]}
                    )
                },
            )
        },
    )

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """No-store on the results too."""
        return {"Cache-Control": NO_STORE} if status == "200" else super().headers_for(status)


class AccountJwksOperation(DocumentedOperation):
    """``GET /v1/accounts/{account_id}/jwks.json``: public and cacheable."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # Litestar documents a 400 for any handler with parameters (validation errors); a
        # str path parameter never fails validation: an id of any shape is a 404.
        (self.responses or {}).pop("400", None)

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """Cache-Control on the key set."""
        return {"Cache-Control": CACHEABLE} if status == "200" else super().headers_for(status)


def _problem(description: str, *examples: tuple[str, int, str, str, str]) -> ResponseSpec:
    """An RFC 9457 problem response, with (summary, status, title, code, detail) examples."""
    return ResponseSpec(
        Problem,
        description=description,
        media_type=_PROBLEM,
        generate_examples=False,
        examples=[
            Example(
                summary=summary,
                value={
                    "type": "about:blank",
                    "title": title,
                    "status": status,
                    "detail": detail,
                    "code": code,
                },
            )
            for summary, status, title, code, detail in examples
        ],
    )


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
_413_BODY = ("Body too large", 413, "Request refused", "PAYLOAD_TOO_LARGE", too_large())
_429 = _problem(
    "Too many calls for this account (a batch counts one per token): retry after "
    "Retry-After seconds (RATE_LIMITED).",
    (
        "Rate limited",
        429,
        "Too many requests",
        "RATE_LIMITED",
        "too many calls for this account; retry later",
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
        "TOKEN_INVALID_CLAIMS).",
        ("Expired token", 422, "Token refused", "TOKEN_EXPIRED", "token expired 120 s ago"),
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
            "Invalid request",
            "PAYLOAD_TOO_LARGE",
            "at most 1000 tokens per batch",
        ),
        _413_BODY,
    ),
    429: _429,
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

_DESCRIPTION = """\
Encrypts customers' **secure tokens** (JWS) into JWE with the account's own key, so that
participants' data travels encrypted to the campaign player.

* Each token is **verified before it is encrypted**, with the account's method and claim
  rules: a token the player would refuse is refused now (422 with its `code`).
* Call with a bearer from the Authorization API (`POST /oauth/token`) with scope
  `token:encrypt`; the account is the bearer's. The key set to encrypt locally instead is
  public: `GET /v1/accounts/{account_id}/jwks.json`.
* Errors are RFC 9457 problems (`application/problem+json`) with our `code`. 401 and 403
  carry an RFC 6750 `WWW-Authenticate` challenge, 429 and 503 `Retry-After`. A wrong method
  is 405 (with `Allow`) and an unknown path 404, as problems too.
"""


def openapi_config() -> OpenAPIConfig:
    """The OpenAPI configuration: document metadata, the bearer security scheme, and the
    docs pages under ``/schema``."""
    return app_openapi_config(
        "Crypto API",
        _DESCRIPTION,
        [
            Tag(name="Encryption", description="Secure tokens in, JWE out."),
            Tag(name="Keys", description="Public encryption keys, per account."),
        ],
        Components(
            security_schemes={
                _BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="An RFC 9068 access token from the Authorization API "
                    "(`POST /oauth/token`) with the scope `token:encrypt`; it names the "
                    "account, and lives 5 minutes by default: reuse it until then.",
                )
            }
        ),
    )
