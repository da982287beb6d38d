"""The Crypto API's OpenAPI document: each route's bodies and headers (its answers are in
:mod:`crypto_api.responses`), the bearer security scheme and the ``application/jwt``
answer (why Litestar cannot infer them: :mod:`shared.web.openapi`).

Handlers read raw bodies, JSON or ``application/jwt``, for precise error codes. The
checked-in ``openapi/crypto-api.json`` is what every deployment serves, so nothing here
depends on the settings.
"""

from __future__ import annotations

from typing import Final

from litestar.openapi import OpenAPIConfig
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
    BatchRequest,
    EncryptRequest,
)
from shared.web.docs_assets import DocsAssets
from shared.web.headers import CACHEABLE, RETRY_AFTER_HEADER, STRING, header
from shared.web.headers import NO_STORE as NO_STORE_VALUE
from shared.web.openapi import SCALAR_VERSION, StructSchema
from shared.web.openapi import DocumentedOperation as BaseOperation
from shared.web.openapi import openapi_config as app_openapi_config
from shared.wire import SCOPE_ENCRYPT

__all__ = [
    "ENCRYPT_SECURITY",
    "SCALAR_VERSION",
    "AccountJwksOperation",
    "BatchOperation",
    "DocumentedOperation",
    "EncryptOperation",
    "openapi_config",
]

_JSON: Final = "application/json"
_JWT: Final = "application/jwt"
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
                    description="The compact JWS, alone (one final newline is the "
                    "body's framing and is removed; any other whitespace refuses the "
                    "token); the answer is then application/jwt too.",
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


def openapi_config(docs_assets: DocsAssets = "local") -> OpenAPIConfig:
    """The OpenAPI configuration: document metadata, the bearer security scheme, and the
    docs pages under ``/schema`` (their scripts from ``docs_assets``: here or the CDN)."""
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
        docs_assets=docs_assets,
    )
