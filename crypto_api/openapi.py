"""The Crypto API's OpenAPI document: what Litestar cannot infer from the handlers.

The handlers read raw bodies (JSON or ``application/jwt``, for precise error codes), so
Litestar sees no request body; and errors come from ``errors.py``'s table as RFC 9457
problems, not from exceptions Litestar knows about. So each route names its responses here
(``ResponseSpec``: the Structs land in ``components/schemas``), and an
:class:`~litestar.openapi.spec.Operation` subclass adds what ``ResponseSpec`` cannot carry:
request bodies, response headers, the ``application/jwt`` answer.

Nothing here may depend on the settings: the checked-in ``openapi/crypto-api.json`` must be
what every deployment serves (``tests/test_openapi.py`` checks both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

import msgspec
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
    Tag,
)

from crypto_api.schemas import (
    EXAMPLE_JWE,
    EXAMPLE_JWS,
    AccountJwks,
    BatchRequest,
    BatchResponse,
    EncryptRequest,
    EncryptResponse,
    Liveness,
    Problem,
    Readiness,
)

__all__ = [
    "ACCOUNT_JWKS_RESPONSES",
    "BATCH_RESPONSES",
    "ENCRYPT_RESPONSES",
    "ENCRYPT_SECURITY",
    "HEALTH_READY_RESPONSES",
    "HEALTH_RESPONSES",
    "AccountJwksOperation",
    "BatchOperation",
    "DocumentedOperation",
    "EncryptOperation",
    "openapi_config",
]

#: Pinned: the docs page runs this script on our origin, so it changes only deliberately.
SCALAR_VERSION: Final = "1.72.1"
_JSON: Final = "application/json"
_JWT: Final = "application/jwt"
_PROBLEM: Final = "application/problem+json"
_BEARER: Final = "bearerAuth"
#: What the encrypt operations require: a bearer with this scope.
ENCRYPT_SECURITY: Final[list[SecurityRequirement]] = [{_BEARER: ["token:encrypt"]}]


class StructSchema(Schema):
    """The JSON Schema msgspec renders for a flat Struct.

    For request bodies: Litestar documents one only for a ``data`` parameter, and ours read
    the raw body. OpenAPI 3.1 schemas are JSON Schema 2020-12, which msgspec emits.
    """

    def __init__(self, struct: type[msgspec.Struct]) -> None:
        super().__init__()
        self.struct = struct

    def to_schema(self) -> dict[str, Any]:
        """The schema, inlined (``$defs`` references would dangle in an OpenAPI document)."""
        _, components = msgspec.json.schema_components([self.struct])
        if len(components) != 1:
            raise TypeError("only flat Structs can be inlined (nested ones would be $refs)")
        schema: dict[str, Any] = components[self.struct.__name__]
        # Docstrings wrap lines; a description is one paragraph.
        schema["description"] = " ".join(schema.get("description", "").split())
        return schema


def _header(description: str, schema: Schema, example: object) -> OpenAPIHeader:
    return OpenAPIHeader(description=description, required=True, schema=schema, example=example)


_STRING = Schema(type=OpenAPIType.STRING)
RETRY_AFTER: Final = _header(
    "Seconds to wait before trying again.", Schema(type=OpenAPIType.INTEGER, minimum=1), 5
)
NO_STORE: Final = _header("Never cache: the answer is about this request.", _STRING, "no-store")
CACHEABLE: Final = _header("Cacheable for a minute.", _STRING, "public, max-age=60")
CHALLENGE_401: Final = _header(
    "RFC 6750 §3 challenge: no error code when no bearer was sent.",
    _STRING,
    'Bearer realm="crypto-api", error="invalid_token"',
)
CHALLENGE_403: Final = _header(
    "RFC 6750 §3 challenge naming the scope needed.",
    _STRING,
    'Bearer realm="crypto-api", error="insufficient_scope", scope="token:encrypt"',
)


@dataclass
class DocumentedOperation(Operation):
    """An operation completed with what ``ResponseSpec`` cannot carry: a request body
    (``body``) and response headers (:meth:`headers_for`)."""

    body: ClassVar[RequestBody | None] = None

    def __post_init__(self) -> None:
        if self.body is not None:
            self.request_body = self.body
        for status, response in (self.responses or {}).items():
            if isinstance(response, OpenAPIResponse) and (headers := self.headers_for(status)):
                response.headers = {**(response.headers or {}), **headers}

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """The headers of the ``status`` response: every problem is no-store; 401 and 403
        carry the bearer challenge, 429 and 503 Retry-After."""
        if int(status) < 400:
            return {}
        headers = {"Cache-Control": NO_STORE}
        if status in ("401", "403"):
            headers["WWW-Authenticate"] = CHALLENGE_401 if status == "401" else CHALLENGE_403
        if status in ("429", "503"):
            headers["Retry-After"] = RETRY_AFTER
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


def _ok(struct: type[msgspec.Struct], description: str, value: object) -> ResponseSpec:
    return ResponseSpec(
        struct,
        description=description,
        generate_examples=False,
        examples=[Example(summary=description, value=value)],
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
_413_BODY = (
    "Body too large",
    413,
    "Request refused",
    "PAYLOAD_TOO_LARGE",
    "the request body is too large",
)
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
    200: _ok(
        EncryptResponse,
        "The JWE (as application/jwt when the request was, or asked for it with Accept)",
        {"token": EXAMPLE_JWE, "kid": "acme/1", "alg": "RSA-OAEP-256", "enc": "A256GCM"},
    ),
    400: _400,
    401: _401,
    403: _403,
    413: _problem("The body is over 32 KiB; it was not read.", _413_BODY),
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
    200: _ok(
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
    200: _ok(
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

HEALTH_RESPONSES: Final = {200: _ok(Liveness, "The process is up", {"status": "ok"})}

HEALTH_READY_RESPONSES: Final = {
    200: _ok(Readiness, "Ready", {"status": "ready", "vault": "ok"}),
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
    docs pages under ``/schema`` (Scalar at ``/schema``, Swagger UI at ``/schema/swagger``,
    the JSON at ``/schema/openapi.json``)."""
    return OpenAPIConfig(
        title="Crypto API",
        version="1.0.0",
        description=_DESCRIPTION,
        tags=[
            Tag(name="Encryption", description="Secure tokens in, JWE out."),
            Tag(name="Keys", description="Public encryption keys, per account."),
            Tag(name="Operations", description="Probes for load balancers and orchestrators."),
        ],
        components=Components(
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
        path="/schema",
        render_plugins=[
            ScalarRenderPlugin(version=SCALAR_VERSION),
            SwaggerRenderPlugin(),
            JsonRenderPlugin(),
        ],
    )
