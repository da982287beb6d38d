"""Route handlers: parse the request, call the service in a worker thread, shape the answer."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any, Final

import anyio
import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.spec import Example
from litestar.params import Parameter

from crypto_api.errors import RequestInvalid, RequestTooLarge
from crypto_api.openapi import (
    ENCRYPT_SECURITY,
    AccountJwksOperation,
    BatchOperation,
    DocumentedOperation,
    EncryptOperation,
)
from crypto_api.responses import (
    ACCOUNT_JWKS_RESPONSES,
    BATCH_RESPONSES,
    ENCRYPT_RESPONSES,
    HEALTH_READY_RESPONSES,
    HEALTH_RESPONSES,
)
from crypto_api.schemas import (
    SINGLE_BODY_MAX,
    BatchItem,
    BatchItemError,
    BatchRequest,
    BatchResponse,
    EncryptRequest,
    EncryptResponse,
)
from shared.server.encrypt_service import EncryptService
from shared.tokens.compact import without_line_ending
from shared.web.dependencies import Injected
from shared.web.headers import CACHE_A_MINUTE, NO_STORE
from shared.web.health import check_ready, liveness_route, readiness_route
from shared.web.request_headers import best_media_type, header_values, media_type
from shared.web.threads import ThreadPool
from shared.wire import Encrypted, ItemError

__all__ = ["ROUTES", "THREADS"]

_JWT = "application/jwt"
ENCRYPT_THREADS = ThreadPool("encrypt_threads", 32)
#: Batches run at most this many at once per worker, on their own threads: a full batch is
#: CPU for a second or so, and must not hold up single-token calls.
BATCH_THREADS = ThreadPool("batch_threads", 2)
THREADS = (ENCRYPT_THREADS, BATCH_THREADS)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise RequestInvalid(f"the body repeats a member: {sorted(set(names))}")
    return dict(pairs)


#: One decoder for every request: ``json.loads`` with a hook builds a decoder (and its
#: scanner) per call, a tenth of an encrypt's CPU with the collections it set off (issue 17).
_DUPLICATES = json.JSONDecoder(object_pairs_hook=_refuse_duplicates)


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        decoded = msgspec.json.decode(body, type=kind)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise RequestInvalid(f"the body must be JSON like {_EXAMPLES[kind]}: {exc}") from None
    # msgspec keeps the last of repeated members; a proxy or WAF may read the first. The
    # token parser refuses duplicates too, so the body must not be laxer (RFC 8259 §4).
    try:
        _DUPLICATES.decode(body.decode("utf-8"))
    except ValueError as exc:
        raise RequestInvalid(f"the body must be JSON like {_EXAMPLES[kind]}: {exc}") from None
    return decoded


def _authorization(request: Request[Any, Any, Any]) -> str | None:
    values = header_values(request, b"authorization")
    if len(values) > 1:
        # RFC 9110 §5.3: Authorization is not a list; which copy counts would depend on who
        # reads it (RFC 6750 §3.1: invalid_request).
        raise RequestInvalid("send one Authorization header, not several")
    return values[0] if values else None


#: What ``POST /v1/encrypt`` answers in, the default first.
_ANSWERS: Final = ("application/json", _JWT)

_EXAMPLES: dict[type[Any], str] = {
    EncryptRequest: '{"token": "<JWS>"}',
    BatchRequest: '{"tokens": ["<JWS>", ...]}',
}


@post(
    "/v1/encrypt",
    operation_id="encrypt",
    status_code=200,
    request_max_body_size=SINGLE_BODY_MAX,
    summary="Encrypt a secure token",
    description="Verifies the JWS with the bearer's account (its method, allowed algorithms "
    "and claim rules, all but the campaign) and seals it into a JWE for that account: `alg` "
    "RSA-OAEP-256 with the account's latest key, `enc` A256GCM, `kid` account/version, `cty` "
    "JWT. The answer is `application/jwt` when the request body was, or when `Accept` "
    "prefers it; JSON otherwise.",
    tags=["Encryption"],
    security=ENCRYPT_SECURITY,
    responses=ENCRYPT_RESPONSES,
    operation_class=EncryptOperation,
)
async def encrypt(
    request: Request[Any, Any, Any], encrypt_service: Injected[EncryptService]
) -> Response[Any]:
    """Verify a JWS with the bearer's account and seal it into a JWE (JSON or application/jwt)."""
    raw = media_type(request) == _JWT
    authorization = _authorization(request)
    # At most SINGLE_BODY_MAX, even without a bearer: cheap to hold, and reading it here
    # keeps the hot path at one hop to a worker thread, where the bearer is still
    # checked before the body is looked at (a bad bearer is a 401 whatever the body).
    # A body over the limit is not read past it, and its 413 waits for the bearer too:
    # its size is nobody's business until then.
    too_large: RequestEntityTooLarge | None = None
    try:
        body = await request.body()
    except RequestEntityTooLarge as exc:
        body, too_large = b"", exc

    def read_token(account: str) -> object:
        request.scope["state"]["client_id"] = account
        if too_large is not None:
            raise too_large
        return (
            # A text body's final newline is its framing (curl --data-binary @file): only
            # that is removed; any other whitespace is the token's, and refuses it.
            without_line_ending(body.decode("ascii", "replace"))
            if raw
            else _decode(body, EncryptRequest).token
        )

    def run() -> Any:
        # One deadline for the request's waits on Vault (its account, then its key).
        deadline = encrypt_service.deadline()
        account = encrypt_service.authenticate(authorization, deadline=deadline)
        token = read_token(account)
        encrypt_service.charge(account)
        return encrypt_service.encrypt(account, token, deadline=deadline)

    # Everything cached (the usual case: a campaign's bearer, account and keys): the same
    # steps in the same order on the loop, about 150 µs of CPU, without the thread hop.
    account = encrypt_service.authenticate_inline(authorization)
    if account is None:
        result = await ENCRYPT_THREADS.run(request, run)
    else:
        outcome = await encrypt_service.encrypt_cached(account, read_token(account))
        if isinstance(outcome, Encrypted):
            result = outcome
        else:  # something needs Vault after all: the rest in a worker thread
            result = await ENCRYPT_THREADS.run(request, outcome)
    if raw or best_media_type(request, _ANSWERS) == _JWT:
        return Response(result.token, media_type=_JWT, headers={"Cache-Control": NO_STORE})
    return Response(
        EncryptResponse(token=result.token, kid=result.kid, alg="RSA-OAEP-256", enc="A256GCM"),
        headers={"Cache-Control": NO_STORE},
    )


@post(
    "/v1/encrypt/batch",
    operation_id="encryptBatch",
    status_code=200,
    summary="Encrypt many secure tokens",
    description="Each token is verified and sealed as by `POST /v1/encrypt`, independently: a "
    "refused token is an error item with its code, and never fails the others. Results come "
    "in input order. Meant for e-mail campaigns; at most CRYPTO_BATCH_MAX tokens "
    "(default 1000), each counting against the account's batch rate limit, a budget apart "
    "from single calls'.",
    tags=["Encryption"],
    security=ENCRYPT_SECURITY,
    responses=BATCH_RESPONSES,
    operation_class=BatchOperation,
)
async def encrypt_batch(
    request: Request[Any, Any, Any], encrypt_service: Injected[EncryptService]
) -> Response[BatchResponse]:
    """Encrypt many tokens: results in input order, each a JWE or an error with its code."""
    authorization = _authorization(request)
    # The bearer first, before a byte of the body is read: a batch body may be 16 MB, and
    # a caller without a valid bearer must not make us read, hold and parse it (uvicorn
    # discards the unread body once the 401 is sent, and the connection stays usable).
    account = await ENCRYPT_THREADS.run(
        request, partial(encrypt_service.authenticate, authorization)
    )
    request.scope["state"]["client_id"] = account
    body = await request.body()

    def run() -> Any:
        tokens = _decode(body, BatchRequest).tokens
        if not tokens:
            raise RequestInvalid("'tokens' is empty")
        if len(tokens) > encrypt_service.batch_max:
            raise RequestTooLarge(f"at most {encrypt_service.batch_max} tokens per batch")
        encrypt_service.charge(account, len(tokens), batch=True)
        return encrypt_service.encrypt_batch(account, tokens)

    results = await BATCH_THREADS.run(request, run)
    items = [
        BatchItem(error=BatchItemError(code=r.code, detail=r.detail))
        if isinstance(r, ItemError)
        else BatchItem(token=r.token, kid=r.kid)
        for r in results
    ]
    failed = sum(1 for r in results if isinstance(r, ItemError))
    return Response(
        BatchResponse(results=items, succeeded=len(items) - failed, failed=failed),
        headers={"Cache-Control": NO_STORE},
    )


@get(
    "/v1/accounts/{account_id:str}/jwks.json",
    operation_id="accountJwks",
    summary="An account's public encryption keys",
    description="RFC 7517 JWK set of the account's live keys (`use` enc, `alg` RSA-OAEP-256), "
    "latest first, to encrypt locally with any JOSE library: use the first key, and its "
    "`kid` in the JWE header. Public: no bearer needed.",
    tags=["Keys"],
    responses=ACCOUNT_JWKS_RESPONSES,
    operation_class=AccountJwksOperation,
)
async def account_jwks(
    request: Request[Any, Any, Any],
    account_id: Annotated[
        str, Parameter(description="The account id.", examples=[Example(value="acme")])
    ],
    encrypt_service: Injected[EncryptService],
) -> Response[Any]:
    """The account's public encryption keys (``use: enc``, ``RSA-OAEP-256``), latest first."""
    # The address as the server sees it (behind a proxy, the one its X-Forwarded-For names,
    # when uvicorn trusts that proxy: --forwarded-allow-ips).
    client = request.client.host if request.client else None
    document = await anyio.to_thread.run_sync(encrypt_service.account_jwks, account_id, client)
    return Response(document, headers={"Cache-Control": CACHE_A_MINUTE})


@readiness_route(
    "Ready when the Authorization API's keys are usable and Vault answers, or "
    "while Vault is down if keys are cached to ride out the outage (`vault` says which), and "
    "an encrypt worker thread is free (503 SATURATED when all are busy).",
    HEALTH_READY_RESPONSES,
    operation_class=DocumentedOperation,
)
async def health_ready(
    request: Request[Any, Any, Any], encrypt_service: Injected[EncryptService]
) -> Response[Any]:
    """Ready when the authz JWKS is usable and Vault answers, or keys are cached to ride
    out its outage (the body says which).

    Raises:
        NotReady: with the reason's code (the error underneath, or SATURATED).
    """
    threads = ENCRYPT_THREADS.limiter(request)
    status = await check_ready(encrypt_service.check_ready, threads, "encrypt")
    return Response(status)


ROUTES = [encrypt, encrypt_batch, account_jwks, liveness_route(HEALTH_RESPONSES), health_ready]
