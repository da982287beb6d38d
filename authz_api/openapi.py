"""The Authorization API's OpenAPI document: the token request's form and each route's
headers, which Litestar cannot infer (:mod:`shared.web.openapi`); the answers are in
:mod:`authz_api.responses`.

The token endpoint parses its form by hand, for precise RFC 6749 errors; its two grants
are documented from the Structs of ``schemas.py``. The checked-in ``openapi/authz-api.json``
is what every deployment serves, so nothing here depends on the settings.
"""

from __future__ import annotations

from typing import Final

from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Example, OpenAPIHeader, OpenAPIMediaType, RequestBody, Tag

from authz_api.schemas import (
    EXAMPLE_ASSERTION,
    EXAMPLE_CLIENT_ASSERTION,
    ClientCredentialsGrant,
    JwtBearerGrant,
)
from shared.web.docs_assets import DocsAssets
from shared.web.headers import CACHEABLE, STRING, header
from shared.web.headers import NO_STORE as NO_STORE_VALUE
from shared.web.openapi import SCALAR_VERSION, DocumentedOperation, StructSchema
from shared.web.openapi import openapi_config as app_openapi_config

__all__ = [
    "SCALAR_VERSION",
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

#: Sent only with the 401 of a client that authenticated with the Authorization header.
HEADER_AUTH_CHALLENGE: Final = OpenAPIHeader(
    description="RFC 6749 §5.2: only when the client authenticated with the Authorization "
    "header (HTTP Basic, which is not supported), a challenge in the scheme it used.",
    required=False,
    schema=STRING,
    example='Basic realm="authz-api"',
)


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
        """No-store on every answer, plus Retry-After on 429 and 503, and on 401 the
        challenge sent to a client that tried the Authorization header."""
        headers = {**NO_STORE, **super().headers_for(status)}
        if status == "401":
            headers["WWW-Authenticate"] = HEADER_AUTH_CHALLENGE
        return headers


class JwksOperation(DocumentedOperation):
    """``GET /.well-known/jwks.json``: cacheable for a minute."""

    def headers_for(self, status: str) -> dict[str, OpenAPIHeader]:
        """Cache-Control on the key set; an error is no-store (as every OAuth error
        answer is) with Retry-After on 503."""
        if status == "200":
            return {"Cache-Control": CACHEABLE}
        return {**NO_STORE, **super().headers_for(status)}


_DESCRIPTION = """\
Exchanges a customer's signed **secure token** (a JWS) for a short-lived **bearer**: an
RFC 9068 JWT access token, signed in Vault, that the Crypto API accepts with scope
`token:encrypt`.

* `POST /oauth/token` takes the RFC 7523 grants, form-encoded: `jwt-bearer` (the secure
  token as `assertion`, with `client_id`) or `client_credentials` with a client assertion
  (`private_key_jwt` / `client_secret_jwt`). There is no HTTP authentication: the client
  proves who it is with the JWT in the body, signed with the account's own key or secret. A
  request with an `Authorization` header (HTTP Basic, `client_secret_basic`) is 401
  `invalid_client` with a `WWW-Authenticate` challenge in its scheme (RFC 6749 §5.2).
* Errors are RFC 6749 §5.2 JSON (`error`, `error_description`) with our `code` when a token
  was refused: the secure-token codes (`TOKEN_EXPIRED`, `TOKEN_INVALID_SIGNATURE`…) or an
  infrastructure one. 429 and 503 carry `Retry-After`. A wrong method is 405 (with `Allow`)
  and an unknown path 404, in the same JSON shape.
* Bearers verify with `/.well-known/jwks.json`; the server describes itself at
  `/.well-known/oauth-authorization-server` (RFC 8414).
"""


def openapi_config(docs_assets: DocsAssets = "local") -> OpenAPIConfig:
    """The OpenAPI configuration: document metadata and the docs pages under ``/schema``
    (their scripts from ``docs_assets``: this service or the CDN)."""
    return app_openapi_config(
        "Authorization API",
        _DESCRIPTION,
        [
            Tag(name="OAuth", description="The token endpoint (RFC 6749, RFC 7523)."),
            Tag(name="Discovery", description="What clients and the Crypto API fetch."),
        ],
        docs_assets=docs_assets,
    )
