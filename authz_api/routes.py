"""Route handlers: parse the request, call one service function, shape the response."""

from __future__ import annotations

import hashlib
import re
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from litestar import Request, Response, get, post

from authz_api.errors import NO_STORE, HeaderAuthRefused
from authz_api.openapi import JwksOperation, TokenOperation
from authz_api.responses import (
    HEALTH_READY_RESPONSES,
    HEALTH_RESPONSES,
    JWKS_RESPONSES,
    METADATA_RESPONSES,
    TOKEN_RESPONSES,
)
from authz_api.schemas import AuthorizationServerMetadata, Health, TokenResponse
from shared.accounts.document import ACCOUNT_ID_PATTERN
from shared.algorithms import METHOD_ALGORITHMS
from shared.errors import ServiceError
from shared.server.bearer_issuer import BearerIssuer
from shared.server.oauth_error import OAuthError
from shared.server.token_service import TokenService
from shared.web.dependencies import Injected
from shared.web.headers import CACHE_A_MINUTE
from shared.web.health import NotReady, check_ready, liveness_route, readiness_route
from shared.web.threads import ThreadPool
from shared.wire import GRANT_TYPES, SCOPE_ENCRYPT

__all__ = ["ROUTES", "THREADS"]

_FORM = "application/x-www-form-urlencoded"
ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)
_SIGNING_ALGS = sorted(set(METHOD_ALGORITHMS["public_key"] + METHOD_ALGORITHMS["symmetric"]))
#: Token exchanges get their own worker threads, so that readiness probes and the JWKS
#: (anyio's default pool) still answer while exchanges wait on a slow Vault.
EXCHANGE_THREADS = ThreadPool("exchange_threads", 32)
THREADS = (EXCHANGE_THREADS,)


def loggable_client_id(value: str | None) -> str | None:
    """The claimed client_id as it may be logged: a well-formed account id, or a short hash
    (it is attacker-chosen and could be long, or a token pasted in the wrong field)."""
    if value is None:
        return None
    if ACCOUNT_ID.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:12]


def parse_form(body: bytes) -> dict[str, str]:
    """Form parameters; each may appear once (RFC 6749 §3.2).

    Raises:
        OAuthError: invalid_request for a body that is not a form or repeats a parameter.
    """
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form encoding") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise OAuthError("invalid_request", f"parameter {name!r} is given more than once")
        params[name] = value
    return params


@post(
    "/oauth/token",
    operation_id="token",
    status_code=200,
    summary="Exchange a secure token or a client assertion for a bearer",
    description="Verifies the assertion with the account's own method (public key, shared "
    "secret or JWKS; the algorithms it allows) and answers an RFC 9068 bearer for the Crypto "
    "API. `jwt-bearer`: the secure token may be exchanged again while it is valid. "
    "`client_credentials`: each client assertion is single-use (`jti`) until it expires.",
    tags=["OAuth"],
    responses=TOKEN_RESPONSES,
    operation_class=TokenOperation,
)
async def token(
    request: Request[Any, Any, Any], token_service: Injected[TokenService]
) -> Response[TokenResponse]:
    """Exchange a secure token (jwt-bearer grant) or a client assertion (client_credentials)
    for a bearer."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        # RFC 6749 §5.2: a client that authenticated with the header hears 401 and a
        # challenge, whatever else the request holds.
        raise HeaderAuthRefused(authorization.strip().partition(" ")[0])
    media_type = request.content_type[0]
    if media_type != _FORM:
        if not media_type:
            raise OAuthError(
                "invalid_request",
                f"the request has no Content-Type: send the parameters as {_FORM}",
            )
        raise OAuthError("invalid_request", f"send the parameters as {_FORM}, not {media_type}")
    params = parse_form(await request.body())
    request.scope["state"]["client_id"] = loggable_client_id(params.get("client_id"))
    address = request.client.host if request.client else None
    if token_service.exchanges_inline(params):
        # A campaign's usual exchange (cached account and keys): checked on the loop, and
        # only the Transit signature is awaited, batched by the signer threads.
        issued = await token_service.exchange_async(params, client_address=address)
    else:
        issued = await EXCHANGE_THREADS.run(
            request, partial(token_service.exchange, params, client_address=address)
        )
    return Response(
        TokenResponse(
            access_token=issued.access_token,
            token_type="Bearer",  # noqa: S106 - RFC 6749 §7.1 token type, not a secret
            expires_in=issued.expires_in,
            scope=issued.scope,
        ),
        headers=NO_STORE,
    )


@get(
    "/.well-known/jwks.json",
    operation_id="jwks",
    summary="The keys that verify bearers",
    description="RFC 7517 JWK set of the bearer signing key's live versions (ES256), latest "
    "first: an older version stays while bearers it signed may be valid. Served from cache "
    "while Vault is down.",
    tags=["Discovery"],
    responses=JWKS_RESPONSES,
    operation_class=JwksOperation,
)
async def jwks(bearers: Injected[BearerIssuer]) -> Response[dict[str, Any]]:
    """The public keys that verify our bearers (latest first, older ones while needed).

    Raises:
        OAuthError: temporarily_unavailable when they can be neither read nor served from
            cache.
    """
    try:
        document = await anyio.to_thread.run_sync(bearers.jwks)
    except ServiceError as exc:
        raise OAuthError(
            "temporarily_unavailable",
            f"the signing keys cannot be read now ({exc.code}); retry in a few seconds",
            code=exc.code,
        ) from exc
    return Response(document, headers={"Cache-Control": CACHE_A_MINUTE})


@get(
    "/.well-known/oauth-authorization-server",
    operation_id="metadata",
    summary="Authorization server metadata",
    description="RFC 8414 metadata: issuer, endpoints, grants, client authentication "
    "methods and their signing algorithms, scopes.",
    tags=["Discovery"],
    responses=METADATA_RESPONSES,
)
async def metadata(bearers: Injected[BearerIssuer]) -> AuthorizationServerMetadata:
    """RFC 8414 authorization server metadata."""
    issuer = bearers.issuer
    return AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=f"{issuer}/oauth/token",
        jwks_uri=f"{issuer}/.well-known/jwks.json",
        grant_types_supported=list(GRANT_TYPES),
        token_endpoint_auth_methods_supported=["private_key_jwt", "client_secret_jwt"],
        token_endpoint_auth_signing_alg_values_supported=_SIGNING_ALGS,
        scopes_supported=[SCOPE_ENCRYPT],
        # RFC 8414 §2 requires it; there is no authorization endpoint, so none.
        response_types_supported=[],
    )


@readiness_route(
    "Ready when Vault answers, the signing key is readable, the signers are alive "
    "and a token-exchange worker thread is free (503 SATURATED when all are busy).",
    HEALTH_READY_RESPONSES,
)
async def health_ready(
    request: Request[Any, Any, Any], bearers: Injected[BearerIssuer]
) -> Response[Health]:
    """Ready when Vault answers, the signing key is readable, the signers are alive and an
    exchange thread is free.

    Raises:
        NotReady: with the reason's code (the error underneath, SIGNER_DOWN or SATURATED).
    """

    def check() -> None:
        bearers.signing_keys(fresh=True)
        if not bearers.signer_healthy():
            raise NotReady("SIGNER_DOWN", "the bearer signers are down")

    await check_ready(check, EXCHANGE_THREADS.limiter(request), "token-exchange")
    return Response(Health(status="ready"))


ROUTES = [token, jwks, metadata, liveness_route(HEALTH_RESPONSES), health_ready]
