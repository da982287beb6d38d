"""Route handlers: parse the request, call the service in a worker thread, shape the answer."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath

from crypto_api.errors import RETRY_AFTER, RequestInvalid, RequestTooLarge, problem
from shared.encryption import EncryptService, ItemError
from shared.errors import ServiceError

__all__ = ["ROUTES", "on_startup"]

_JWT = "application/jwt"
ENCRYPT_THREADS = 32
#: Batches run at most this many at once per worker, on their own threads: a full batch is
#: CPU for a second or so, and must not hold up single-token calls.
BATCH_THREADS = 2
#: One token (16 KiB at most) in JSON or raw: refuse anything bigger before reading it all.
SINGLE_BODY_MAX = 32 * 1024


class EncryptRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/encrypt`` body."""

    token: str


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/encrypt/batch`` body."""

    tokens: list[str]


def on_startup(app: Litestar) -> None:
    """Create the encrypt calls' thread limiter inside the running event loop."""
    app.state.encrypt_threads = anyio.CapacityLimiter(ENCRYPT_THREADS)
    app.state.batch_threads = anyio.CapacityLimiter(BATCH_THREADS)


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise RequestInvalid(f"the body must be JSON like {_EXAMPLES[kind]}: {exc}") from None


_EXAMPLES: dict[type[Any], str] = {
    EncryptRequest: '{"token": "<JWS>"}',
    BatchRequest: '{"tokens": ["<JWS>", ...]}',
}


@post("/v1/encrypt", operation_id="encrypt", status_code=200, request_max_body_size=SINGLE_BODY_MAX)
async def encrypt(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """Verify a JWS with the bearer's account and seal it into a JWE (JSON or application/jwt)."""
    raw = request.content_type[0] == _JWT
    body = await request.body()
    token = body.decode("ascii", "replace").strip() if raw else _decode(body, EncryptRequest).token
    service: EncryptService = state.encrypt_service
    authorization = request.headers.get("authorization")

    def run() -> Any:
        account = service.authorize(authorization)
        request.scope["state"]["client_id"] = account
        return service.encrypt(account, token)

    result = await anyio.to_thread.run_sync(run, limiter=state.encrypt_threads)
    if raw or request.accept.best_match(["application/json", _JWT]) == _JWT:
        return Response(result.token, media_type=_JWT, headers={"Cache-Control": "no-store"})
    return Response(
        {"token": result.token, "kid": result.kid, "alg": "RSA-OAEP-256", "enc": "A256GCM"},
        headers={"Cache-Control": "no-store"},
    )


@post("/v1/encrypt/batch", operation_id="encryptBatch", status_code=200)
async def encrypt_batch(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """Encrypt many tokens: results in input order, each a JWE or an error with its code."""
    service: EncryptService = state.encrypt_service
    tokens = _decode(await request.body(), BatchRequest).tokens
    if not tokens:
        raise RequestInvalid("'tokens' is empty")
    if len(tokens) > service.batch_max:
        raise RequestTooLarge(f"at most {service.batch_max} tokens per batch")
    authorization = request.headers.get("authorization")

    def run() -> Any:
        account = service.authorize(authorization, cost=len(tokens))
        request.scope["state"]["client_id"] = account
        return service.encrypt_batch(account, tokens)

    results = await anyio.to_thread.run_sync(run, limiter=state.batch_threads)
    items = [
        {"error": {"code": r.code, "detail": r.detail}}
        if isinstance(r, ItemError)
        else {"token": r.token, "kid": r.kid}
        for r in results
    ]
    failed = sum(1 for r in results if isinstance(r, ItemError))
    return Response(
        {"results": items, "succeeded": len(items) - failed, "failed": failed},
        headers={"Cache-Control": "no-store"},
    )


@get("/v1/accounts/{account_id:str}/jwks.json", operation_id="accountJwks")
async def account_jwks(account_id: FromPath[str], state: State) -> Response[Any]:
    """The account's public encryption keys (``use: enc``, ``RSA-OAEP-256``), latest first."""
    service: EncryptService = state.encrypt_service
    document = await anyio.to_thread.run_sync(service.account_jwks, account_id)
    return Response(document, headers={"Cache-Control": "public, max-age=60"})


@get("/health/live", operation_id="healthLive")
async def health_live() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@get("/health/ready", operation_id="healthReady")
async def health_ready(state: State) -> Response[Any]:
    """Ready when the authz JWKS is usable and Vault answers, or keys are cached to ride
    out its outage (the body says which)."""
    service: EncryptService = state.encrypt_service
    try:
        status = await anyio.to_thread.run_sync(service.check_ready)
    except ServiceError as exc:
        return problem(503, "Not ready", exc.code, exc.detail, **{"Retry-After": RETRY_AFTER})
    return Response(status)


ROUTES = [encrypt, encrypt_batch, account_jwks, health_live, health_ready]
