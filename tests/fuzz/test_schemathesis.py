"""Schema fuzzing of both APIs from their checked-in OpenAPI documents (schemathesis).

Every operation of ``openapi/authz-api.json`` and ``openapi/crypto-api.json`` is fuzzed over
real HTTP (uvicorn) on the session's real OpenBao: the documents' examples, the coverage
phase (boundary values, missing parameters, undeclared methods) and random positive and
negative requests. Every answer goes through schemathesis's checks: no 5xx; a documented
status, media type, body and headers; bearer enforced; malformed input refused.

A random string is never a signed token, so hooks mix real ones into the generated bodies
(jwt-bearer assertions and client assertions, JWS to encrypt, some valid and some hostile)
and the real account id into the key-set path, and the Crypto API's encrypt operations get
a real bearer from an auth provider: the success paths are fuzzed too, and
:func:`valid_requests_succeed` checks that a request we know to be valid is accepted.

Bounded and deterministic (fixed seed, derandomized): ``FUZZ_EXAMPLES`` random examples per
operation, 100 by default. A deeper run, by hand::

    FUZZ_EXAMPLES=1000 .venv/bin/pytest -q -p no:cacheprovider tests/fuzz/test_schemathesis.py
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response

from shared import Account, AccountStore, PublicKeyValidation, Settings, Vault
from shared.tokens.compact import parse_compact
from shared.wire import CLIENT_ASSERTION_TYPE, JWT_BEARER
from tests.support.authz import Authz, serve
from tests.support.crypto import Crypto, serve_crypto
from tests.support.tokens import claims, flip, pem, replace_part, sign

OPENAPI: Final = Path(__file__).resolve().parents[2] / "openapi"
#: Random examples per operation (schemathesis's fuzzing phase); the examples and coverage
#: phases add their own, a fixed set.
EXAMPLES: Final = int(os.environ.get("FUZZ_EXAMPLES", "100"))
SEED: Final = int(os.environ.get("FUZZ_SEED", "6"))
#: Small, so that generated batches cross it (413) without costing much.
BATCH_MAX: Final = 4
_FORM: Final = "application/x-www-form-urlencoded"
_JWT: Final = "application/jwt"

CONFIG: Final = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        # No links between operations in the documents: nothing for the stateful phase.
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # Every built-in check runs but this one. A schema says which requests are well
            # formed, not which tokens are signed: a schema-valid random assertion is rightly
            # refused (400 invalid_grant, 422). valid_requests_succeed checks acceptance where
            # the request is known to be valid.
            "positive_data_acceptance": {"enabled": False},
            # The default refusals, plus 413: an authenticated request over the size limits
            # (the Crypto API checks the bearer first; a body over the limit is never read
            # past it), and both documents declare that 413.
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422"),
                    *("428", "429", "5xx"),
                ]
            },
        },
    }
)
AUTHZ: Final = schemathesis.openapi.from_path(OPENAPI / "authz-api.json", config=CONFIG)
CRYPTO: Final = schemathesis.openapi.from_path(OPENAPI / "crypto-api.json", config=CONFIG)


def wire_body(case: Case) -> dict[str, bytes]:
    """The raw body of an ``application/jwt`` request, as transport keyword arguments.

    Schemathesis 4 files ``application/jwt`` under JSON (its media-type table lists it with
    ``application/json``), so it would send a token as a JSON string, quotes included, and a
    serializer registered for ``application/jwt`` never wins over its JSON one. A body passed
    to the call replaces the generated one, for the checks' own probes too.
    """
    if case.media_type != _JWT or not isinstance(case.body, str):
        # Negative cases (not a string) go out as schemathesis sends them: their JSON text.
        return {}
    return {"data": case.body.encode("utf-8", "surrogatepass")}


#: (API, operation, status) of every answer to a generated request (the coverage phase's
#: undeclared methods included: 405, or 204 for OPTIONS).
ANSWERS: Final[collections.Counter[tuple[str, str, int]]] = collections.Counter()


def _record(api: str, case: Case, response: Response) -> None:
    ANSWERS[(api, case.operation.label, response.status_code)] += 1


@AUTHZ.hook("after_call")
def authz_after_call(_: schemathesis.HookContext, case: Case, response: Response) -> None:
    """Count the answers (see :data:`ANSWERS`)."""
    _record("authz", case, response)


@CRYPTO.hook
def after_call(_: schemathesis.HookContext, case: Case, response: Response) -> None:
    """A raw JWE answer is handed to the checks as the JSON string it is.

    Schemathesis parses ``application/jwt`` answers as JSON (see :func:`wire_body`), and a
    deserializer registered for it never wins over its JSON one. The document's schema for
    that answer is a string; :func:`valid_requests_succeed` checks that it is a compact JWE.
    """
    _record("crypto", case, response)
    if response.headers.get("content-type", [""])[0].startswith(_JWT):
        response.content = json.dumps(response.content.decode("ascii")).encode("ascii")


# -- the running stack, and the tokens mixed into generated requests ------------------------


class Stack:
    """The running APIs and the fuzzing account: what the hooks need while generating."""

    def __init__(self, authz: Authz, crypto: Crypto, account: str) -> None:
        self.authz = authz
        self.crypto = crypto
        self.account = account
        #: Tokens a well-formed request may carry and must then be accepted with.
        self.valid: set[str] = set()
        self.bearers: set[str] = set()
        self._bearer: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def remember(self, token: str) -> str:
        with self._lock:
            self.valid.add(token)
        return token

    def bearer(self) -> str:
        """A real bearer for the account, renewed every minute (it lives five)."""
        with self._lock:
            if self._bearer is None or time.monotonic() - self._bearer[0] > 60:
                self._bearer = (time.monotonic(), self.crypto.bearer(self.account))
                self.bearers.add(self._bearer[1])
            return self._bearer[1]


_STACK: list[Stack] = []


def stack() -> Stack:
    """The stack of the running test (set by the ``running`` fixture)."""
    return _STACK[-1]


def running_stack() -> bool:
    """False while pytest collects (schemathesis builds the examples phase's cases then)."""
    return bool(_STACK)


def _good() -> str:
    return stack().remember(sign(claims(), "ES256", "ec-p256"))


def _expired() -> str:
    now = int(time.time())
    return sign(claims(exp=now - 7200, iat=now - 9000), "ES256", "ec-p256")


def _tampered() -> str:
    good = sign(claims(), "ES256", "ec-p256")
    return replace_part(good, 2, flip(good.split(".")[2]))


#: Refused for one reason each: expired, another key, no sub, an algorithm the account does
#: not allow, a bit flipped in the signature, five parts (a JWE that is not one).
HOSTILE: Final[tuple[Callable[[], str], ...]] = (
    _expired,
    lambda: sign(claims(), "ES256", "ec-p256-other"),
    lambda: sign(claims(sub=None), "ES256", "ec-p256"),
    lambda: sign(claims(), "HS256", b"k" * 32),
    _tampered,
    lambda: sign(claims(), "ES256", "ec-p256") + ".AAAA.AAAA",
)


def secure_tokens() -> st.SearchStrategy[str]:
    """A freshly signed secure token for the fuzzing account: valid half the time, else
    refused for one of :data:`HOSTILE`'s reasons."""
    return st.one_of(st.just(_good), st.sampled_from(HOSTILE)).map(lambda make: make())


def _client_assertion(valid: bool) -> str:
    s = stack()
    if valid:
        return s.remember(s.authz.client_assertion(s.account, "ES256", "ec-p256"))
    return s.authz.client_assertion(s.account, "ES256", "ec-p256", aud="https://elsewhere.test")


def _jwt_bearer(assertion: str) -> dict[str, str]:
    return {"grant_type": JWT_BEARER, "client_id": stack().account, "assertion": assertion}


def _client_credentials(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def _with(case: Case, **containers: Any) -> Case:
    # Setting a container makes schemathesis revalidate the case, so a negative case whose
    # body is replaced by a valid one counts as positive from then on.
    for name, value in containers.items():
        setattr(case, name, value)
    return case


@AUTHZ.hook("flatmap_case")
def authz_case(_: schemathesis.HookContext, case: Case) -> st.SearchStrategy[Case]:
    """Half the token requests as generated; the others carry a real assertion: a valid
    or hostile grant, alone or over the generated parameters."""
    if not running_stack() or case.path != "/oauth/token":
        return st.just(case)
    generated = case.body
    merged: Callable[[dict[str, str]], Any] = (
        (lambda grant: {**generated, **grant})
        if isinstance(generated, dict)
        else (lambda grant: grant)
    )
    grants = st.one_of(
        secure_tokens().map(_jwt_bearer),
        secure_tokens().map(_jwt_bearer).map(merged),
        st.booleans().map(_client_assertion).map(_client_credentials),
    )
    return st.one_of(st.just(case), grants.map(lambda body: _with(case, body=body)))


@CRYPTO.hook("flatmap_case")
def crypto_case(_: schemathesis.HookContext, case: Case) -> st.SearchStrategy[Case]:
    """Half the requests as generated; the others carry real JWS (one, raw or in JSON, or a
    batch of up to one more than the maximum) or name the real account."""
    if not running_stack():
        return st.just(case)
    if case.path == "/v1/encrypt/batch":
        batches = st.lists(secure_tokens(), min_size=1, max_size=BATCH_MAX + 1)
        bodies = batches.map(lambda tokens: {"tokens": tokens})
    elif case.path == "/v1/encrypt":
        raw = case.media_type == _JWT
        bodies = secure_tokens().map(lambda token: token if raw else {"token": token})
    elif case.path_parameters:
        real = st.builds(lambda: {**case.path_parameters, "account_id": stack().account})
        return st.one_of(st.just(case), real.map(lambda path: _with(case, path_parameters=path)))
    else:
        return st.just(case)
    return st.one_of(st.just(case), bodies.map(lambda body: _with(case, body=body)))


#: What the auth provider puts in a case; the test swaps in a real bearer just before the
#: call. Generation stays free of network calls (schemathesis also builds the examples
#: phase's cases while pytest collects, before any server runs).
BEARER_PLACEHOLDER: Final = "Bearer fuzz-bearer-placeholder"


@CRYPTO.auth(refresh_interval=None, retry_on=[]).apply_to(path_regex="^/v1/encrypt")
class BearerAuth:
    """Marks the encrypt operations' cases as carrying our bearer (schemathesis then also
    checks that the API refuses them without it). Negative cases that drop or spoil the
    Authorization header are left alone."""

    def get(self, case: Case, context: schemathesis.AuthContext) -> str:
        return BEARER_PLACEHOLDER

    def set(self, case: Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


def with_real_bearer(case: Case) -> Case:
    """``case`` with the placeholder replaced by a real bearer of the fuzzing account."""
    if (case.headers or {}).get("Authorization") == BEARER_PLACEHOLDER:
        case.headers["Authorization"] = f"Bearer {stack().bearer()}"
    return case


# -- our own check: a valid request succeeds ------------------------------------------------


def _carries_bearer(case: Case) -> bool:
    value = (case.headers or {}).get("Authorization")
    return isinstance(value, str) and value.removeprefix("Bearer ") in stack().bearers


def _valid(token: object) -> bool:
    return isinstance(token, str) and token in stack().valid


def expected_success(case: Case) -> bool:
    """Whether ``case`` is a request we know to be valid: it must get a 200."""
    body = case.body
    if case.method != "POST":
        return case.path_parameters == {"account_id": stack().account}
    if case.path == "/oauth/token":
        if case.media_type != _FORM or not isinstance(body, dict):
            return False
        return (_valid(body.get("assertion")) and body == _jwt_bearer(body["assertion"])) or (
            _valid(body.get("client_assertion"))
            and body == _client_credentials(body["client_assertion"])
        )
    if not _carries_bearer(case):
        return False
    if case.path == "/v1/encrypt/batch":
        tokens = body.get("tokens") if isinstance(body, dict) and len(body) == 1 else None
        return (
            case.media_type == "application/json"
            and isinstance(tokens, list)
            and 1 <= len(tokens) <= BATCH_MAX
            and all(isinstance(t, str) for t in tokens)
        )
    if case.media_type == _JWT:
        return _valid(body)
    return isinstance(body, dict) and set(body) == {"token"} and _valid(body["token"])


def _assert_sealed(jwe: object, where: str) -> None:
    """``jwe`` is a compact JWE sealed with a key of the fuzzing account."""
    token = parse_compact(jwe)
    assert token.is_jwe, where
    assert str(token.header.get("kid", "")).startswith(f"{stack().account}/"), where


def valid_requests_succeed(_: CheckContext, response: Response, case: Case) -> bool | None:
    """A request we know to be valid gets a 200; each valid token is sealed into a JWE for
    the account (in a batch too, whatever the other items)."""
    if not expected_success(case):
        return None
    status = f"{response.status_code} {response.content[:300]!r}"
    where = f"{case.method} {case.formatted_path}: {status}"
    assert response.status_code == 200, f"a valid request was refused: {where}"
    if case.path == "/v1/encrypt":
        body = json.loads(response.content)  # a raw JWE was made a JSON string (after_call)
        _assert_sealed(body if isinstance(body, str) else body["token"], where)
    elif case.path == "/v1/encrypt/batch":
        results = json.loads(response.content)["results"]
        for token, result in zip(case.body["tokens"], results, strict=True):
            if _valid(token):
                _assert_sealed(result.get("token"), f"{where}: {result}")
    return True


# -- the tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running(settings: Settings, vault: Vault) -> Iterator[Stack]:
    """Both APIs over real HTTP for this module, rate limits out of the way, and an ES256
    account (``tests/keys/ec-p256``) to sign with."""
    account = AccountStore(vault).create(
        Account(
            id=f"fuzz-{uuid.uuid4().hex[:10]}",
            validation=PublicKeyValidation(algorithms=("ES256",), public_key_pem=pem("ec-p256")),
        )
    )
    with (
        serve(settings, rate_limit_per_second=0.0) as authz,
        serve_crypto(
            settings,
            authz,
            crypto_rate_per_second=0.0,
            crypto_batch_rate_per_second=0.0,
            crypto_jwks_rate_per_second=0.0,
            batch_max=BATCH_MAX,
        ) as crypto,
    ):
        _STACK.append(Stack(authz, crypto, account.id))
        try:
            yield _STACK[-1]
        finally:
            _STACK.pop()
        _report()


def _report() -> None:
    """Every operation fuzzed got a 2xx at least once: else the fuzzer never went past the
    refusals (a broken hook, an expired bearer...). ``-v`` lists the answers (conftest)."""
    fuzzed = {(api, label) for api, label, _ in ANSWERS}
    succeeded = {(api, label) for api, label, status in ANSWERS if 200 <= status < 300}
    assert fuzzed == succeeded, f"never a 2xx: {sorted(fuzzed - succeeded)}"


@AUTHZ.parametrize()
def test_authz_api(case: Case, running: Stack) -> None:
    """Every answer of the Authorization API to generated requests is as documented (status,
    media type, body, headers), never a 5xx; valid grants are accepted."""
    case.call_and_validate(
        base_url=running.authz.url, additional_checks=[valid_requests_succeed], timeout=30
    )


@CRYPTO.parametrize()
def test_crypto_api(case: Case, running: Stack) -> None:
    """Every answer of the Crypto API to generated requests is as documented (status, media
    type, body, headers), never a 5xx; the bearer is enforced; valid tokens are sealed."""
    with_real_bearer(case).call_and_validate(
        base_url=running.crypto.url,
        additional_checks=[valid_requests_succeed],
        timeout=30,
        **wire_body(case),
    )
