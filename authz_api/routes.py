"""Route handlers: parse the request, call one service function, shape the response."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import State

from authz_api.errors import NO_STORE
from shared.authorization import GRANT_TYPES, OAuthError, TokenService
from shared.bearer import SCOPE_ENCRYPT, BearerIssuer
from shared.errors import ServiceError

__all__ = ["ROUTES"]

_FORM = "application/x-www-form-urlencoded"
_SIGNING_ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"]


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


@post("/oauth/token", operation_id="token", status_code=200)
async def token(request: Request[Any, Any, Any], state: State) -> Response[dict[str, Any]]:
    """Exchange a secure token (jwt-bearer grant) or a client assertion (client_credentials)
    for a bearer."""
    media_type = request.content_type[0]
    if media_type != _FORM:
        raise OAuthError(
            "invalid_request", f"send the parameters as {_FORM}, not {media_type or 'nothing'}"
        )
    params = parse_form(await request.body())
    request.scope["state"]["client_id"] = params.get("client_id")
    service: TokenService = state.token_service
    issued = await anyio.to_thread.run_sync(service.exchange, params)
    return Response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        },
        headers=NO_STORE,
    )


@get("/.well-known/jwks.json", operation_id="jwks")
async def jwks(state: State) -> Response[dict[str, Any]]:
    """The public keys that verify our bearers (latest first, older ones while needed)."""
    bearers: BearerIssuer = state.bearers
    try:
        document = await anyio.to_thread.run_sync(bearers.jwks)
    except ServiceError as exc:
        return Response(
            {"error": "temporarily_unavailable", "code": exc.code},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return Response(document, headers={"Cache-Control": "public, max-age=60"})


@get("/.well-known/oauth-authorization-server", operation_id="metadata")
async def metadata(state: State) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    issuer: str = state.bearers.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": _SIGNING_ALGS,
        "scopes_supported": [SCOPE_ENCRYPT],
        # RFC 8414 §2 requires it; there is no authorization endpoint, so none.
        "response_types_supported": [],
    }


@get("/health/live", operation_id="healthLive")
async def health_live() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@get("/health/ready", operation_id="healthReady")
async def health_ready(state: State) -> Response[dict[str, str]]:
    """Ready when Vault answers and the signing key is readable."""
    bearers: BearerIssuer = state.bearers
    try:
        await anyio.to_thread.run_sync(lambda: bearers.signing_keys(fresh=True))
    except ServiceError as exc:
        return Response(
            {"status": "unavailable", "code": exc.code},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return Response({"status": "ready"})


ROUTES = [token, jwks, metadata, health_live, health_ready]
