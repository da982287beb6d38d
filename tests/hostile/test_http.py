"""Every corpus case over real HTTP against both APIs, plus hostile requests: exact status
and code, and never a 5xx. One Authorization API and one Crypto API serve the module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared import Settings, Vault
from shared.server.bearer_issuer import BearerIssuer
from tests.hostile.corpus import CASES, REQUESTS, Case, HttpContext, RequestCase
from tests.hostile.forge import ROLES, Context, jws
from tests.support.authz import Authz, serve
from tests.support.crypto import Crypto, serve_crypto

#: Cases whose /v1/encrypt answer is a per-token refusal (what a batch item reports).
TOKEN_REFUSALS = [case for case in CASES if case.expect.crypto[0] == 422]


def _first_of_each_attack() -> list[Case]:
    first: dict[str, Case] = {}
    for case in CASES:
        first.setdefault(case.attack, case)
    return list(first.values())


#: The raw ``application/jwt`` form: the first case of each attack class.
RAW_CASES = _first_of_each_attack()


@pytest.fixture(scope="module")
def apis(settings: Settings, vault: Vault) -> Iterator[tuple[Authz, Crypto]]:
    """Both APIs on the session's OpenBao, rate limits out of the way."""
    with (
        serve(settings, rate_limit_per_second=0.0) as authz,
        serve_crypto(settings, authz, crypto_rate_per_second=0.0) as crypto,
    ):
        yield authz, crypto


@pytest.fixture(scope="module")
def authz(apis: tuple[Authz, Crypto]) -> Authz:
    return apis[0]


@pytest.fixture(scope="module")
def crypto(apis: tuple[Authz, Crypto]) -> Crypto:
    return apis[1]


@pytest.fixture(scope="module")
def bearers(authz: Authz, hostile: Context) -> dict[str, str]:
    """A genuine bearer for each account, from the jwt-bearer grant with an honest token."""
    issued = {}
    for role in ROLES:
        response = authz.jwt_bearer(hostile.ids[role], jws(hostile, role))
        assert response.status_code == 200, response.text
        issued[role] = str(response.json()["access_token"])
    return issued


def _no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"


def _crypto_answer(response: httpx.Response) -> tuple[int, str | None]:
    """Status and problem ``code`` of a Crypto API answer (no code unless a problem)."""
    if not response.headers["content-type"].startswith("application/problem+json"):
        return response.status_code, None
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    return response.status_code, body.get("code")


def test_every_account_can_encrypt(
    crypto: Crypto, hostile: Context, bearers: dict[str, str]
) -> None:
    """Baseline: with its bearer, each account's honest token is encrypted (so the refusals
    below are the attacks' doing)."""
    for role in ROLES:
        response = crypto.encrypt(bearers[role], jws(hostile, role))
        assert response.status_code == 200, (role, response.text)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_authz_jwt_bearer_refuses_with_the_exact_code(
    authz: Authz, hostile: Context, corpus_tokens: dict[str, str], case: Case
) -> None:
    """The jwt-bearer grant with the case as assertion gets its exact status, OAuth error
    and code, uncached."""
    started = time.perf_counter()
    response = authz.jwt_bearer(hostile.ids[case.account], corpus_tokens[case.id])
    elapsed = time.perf_counter() - started
    _no_server_error(response)
    status, error, code = case.expect.authz
    body = response.json()
    assert (response.status_code, body.get("error"), body.get("code")) == (status, error, code), (
        body
    )
    assert response.headers["cache-control"] == "no-store"
    if case.max_seconds is not None:
        assert elapsed < case.max_seconds


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_crypto_encrypt_refuses_with_the_exact_code(
    crypto: Crypto, bearers: dict[str, str], corpus_tokens: dict[str, str], case: Case
) -> None:
    """/v1/encrypt with the case as ``{"token": ...}`` gets its exact status and code."""
    started = time.perf_counter()
    response = crypto.encrypt(bearers[case.account], corpus_tokens[case.id])
    elapsed = time.perf_counter() - started
    _no_server_error(response)
    assert _crypto_answer(response) == case.expect.crypto, response.text
    if case.max_seconds is not None:
        assert elapsed < case.max_seconds


@pytest.mark.parametrize("case", RAW_CASES, ids=[case.id for case in RAW_CASES])
def test_crypto_raw_jwt_body_answers_like_json(
    crypto: Crypto, bearers: dict[str, str], corpus_tokens: dict[str, str], case: Case
) -> None:
    """The same token sent raw (``application/jwt``) gets the same status and code."""
    response = crypto.http.post(
        "/v1/encrypt",
        content=corpus_tokens[case.id].encode(),
        headers={
            "Authorization": f"Bearer {bearers[case.account]}",
            "Content-Type": "application/jwt",
        },
    )
    _no_server_error(response)
    assert _crypto_answer(response) == case.expect.crypto, response.text


@pytest.mark.parametrize("role", sorted({case.account for case in TOKEN_REFUSALS}))
def test_crypto_batch_items_carry_the_exact_codes(
    crypto: Crypto,
    hostile: Context,
    bearers: dict[str, str],
    corpus_tokens: dict[str, str],
    role: str,
) -> None:
    """One batch per account with all its hostile tokens and an honest one: each item gets
    the same code as /v1/encrypt, and the honest token is still encrypted."""
    cases = [case for case in TOKEN_REFUSALS if case.account == role]
    tokens = [jws(hostile, role), *(corpus_tokens[case.id] for case in cases)]
    response = crypto.batch(bearers[role], tokens)
    _no_server_error(response)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "token" in body["results"][0]
    got = {case.id: item.get("error", {}).get("code") for case, item in
           zip(cases, body["results"][1:], strict=True)}  # fmt: skip
    assert got == {case.id: case.expect.crypto[1] for case in cases}
    assert (body["succeeded"], body["failed"]) == (1, len(cases))


@pytest.fixture(scope="module")
def http_context(
    authz: Authz, vault: Vault, hostile: Context, bearers: dict[str, str]
) -> HttpContext:
    """Real credentials for the hostile requests, and bearers that the Authorization API's
    own key signed but that must still be refused."""
    account = hostile.ids["ec"]

    def issuer(**changes: Any) -> BearerIssuer:
        return BearerIssuer(vault, **{"issuer": authz.issuer, "audience": "crypto-api", **changes})

    own = issuer()
    signed_bearers = {
        "other-issuer": issuer(issuer="https://evil.example").issue(account),
        "other-audience": issuer(audience="someone-else").issue(account),
        "expired": issuer(clock=lambda: time.time() - 3600).issue(account),
        "no-scope": own.issue(account, "something:else"),
        "unknown-account": own.issue(f"{account}-ghost"),
        "malformed-sub": own.issue(f"../{account}"),
    }
    return HttpContext(
        tokens=hostile,
        token=jws(hostile, "ec"),
        bearer=bearers["ec"],
        issuer=authz.issuer,
        audience="crypto-api",
        authz_jwk=authz.http.get("/.well-known/jwks.json").json()["keys"][0],
        signed_bearers={name: bearer.access_token for name, bearer in signed_bearers.items()},
    )


@pytest.mark.parametrize("case", REQUESTS, ids=[case.id for case in REQUESTS])
def test_hostile_request_gets_the_exact_answer(
    authz: Authz, crypto: Crypto, http_context: HttpContext, case: RequestCase
) -> None:
    """A hostile request (not a token) gets its exact status and code, never a 5xx."""
    request = case.build(http_context)
    client = authz.http if case.surface == "authz" else crypto.http
    response = client.request(
        request.method, request.path, headers=list(request.headers), content=request.body
    )
    _no_server_error(response)
    if case.surface == "crypto":
        assert _crypto_answer(response) == (case.status, case.code), response.text
    else:
        body = response.json()
        assert (response.status_code, body.get("error"), body.get("code")) == (
            case.status,
            case.error,
            case.code,
        ), body
