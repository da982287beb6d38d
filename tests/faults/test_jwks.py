"""A customer's JWKS endpoint that hangs, returns garbage, returns 10 MB, or changes its keys,
while the customer exchanges tokens and encrypts (both APIs over real HTTP, real OpenBao,
real local JWKS servers).

Expected (docs/decisions.md "JWKS"): a key set the API already holds keeps being used; one it
cannot fetch makes the call 503 UNKNOWN with Retry-After within the fetch deadline (3 s),
never a 5xx, never a token error; once the endpoint behaves, calls succeed again after the
fetcher's back-off (5 s); a new ``kid`` is looked up at most once per 30 s per URL, so
tokens signed with a key published less than 30 s after the last fetch are refused as
TOKEN_INVALID_SIGNATURE (400 / 422) until that refetch.
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass
from typing import Any

from shared import Account, JwksFetcher
from tests.support.faults.customer import Apis, Rotating, jwk_of, jws_for
from tests.support.faults.load import (
    Call,
    Load,
    check_answers,
    describe,
    first_success_after,
    slowest,
)
from tests.support.faults.stack import assert_jwes_open
from tests.support.jwks_server import JwksServer

_FETCHER = inspect.signature(JwksFetcher).parameters
#: JwksFetcher's defaults (not settings): overall fetch deadline, back-off after a failure,
#: and the least time between two fetches for an unknown kid.
FETCH_DEADLINE: float = _FETCHER["timeout"].default
FAILURE_BACKOFF: float = _FETCHER["failure_backoff"].default
MIN_REFRESH: float = _FETCHER["min_refresh_interval"].default
#: Slack for a loaded machine.
MARGIN = 2.5


@dataclass
class Broken:
    """One misbehaving endpoint: an account the Authorization API already fetched (``warm``,
    whose bearer the Crypto API has never seen used) and one nobody fetched (``cold``)."""

    name: str
    server: JwksServer
    warm: Account
    cold: Account
    bearer: str


BAD_ANSWERS = {
    # Accepts the connection and never answers in time.
    "hang": {"delay": 10.0},
    # An HTML error page with a 200.
    "garbage": {"body": b"<html><body><h1>502 Bad Gateway</h1></body></html>"},
    # 10 MB of valid JSON (the keys first): over the 64 KiB cap.
    "huge": {"body": json.dumps({"keys": [jwk_of("k1")], "padding": "x" * 10_000_000}).encode()},
}


def test_misbehaving_endpoints(jwks_apis: Apis) -> None:
    """Three endpoints go bad at once (hang, garbage, 10 MB): an exchange for an account
    whose key set the Authorization API holds goes on (200); an exchange or an encrypt that
    needs a fetch is 503 UNKNOWN + Retry-After within the fetch deadline; once the endpoints
    behave, everything succeeds within the deadline plus the back-off."""
    token = jws_for("k1")
    broken = []
    for name, answer in BAD_ANSWERS.items():
        server = JwksServer().start()
        server.document = {"keys": [jwk_of("k1")]}
        # Distinct URLs (the query) so the fetchers keep one cache entry per account.
        warm = jwks_apis.account(f"{server.url}?warm")
        cold = jwks_apis.account(f"{server.url}?cold")
        broken.append(Broken(name, server, warm, cold, jwks_apis.bearer(warm, token)))
        for field, value in answer.items():
            setattr(server, field, value)
    requests: list[tuple[str, Any]] = []
    for b in broken:
        requests += [
            (f"token-warm/{b.name}", jwks_apis.exchange(b.warm, token)),
            (f"token-cold/{b.name}", jwks_apis.exchange(b.cold, token)),
            (f"encrypt-cold/{b.name}", jwks_apis.encrypt(b.bearer, token)),
        ]
    try:
        with Load("", requests, clients=6, pause=0.05) as load:
            start = time.monotonic()
            time.sleep(1.5)
            for b in broken:
                b.server.delay, b.server.body = 0.0, None
            restored = time.monotonic()
            deadline = restored + FETCH_DEADLINE + FAILURE_BACKOFF + MARGIN + 3
            while time.monotonic() < deadline and not _all_recovered(load.snapshot(), restored):
                time.sleep(0.2)
            time.sleep(1.0)
            calls = load.stop()
        check_recovery(calls, start, restored)
        assert_jwes_open(jwks_apis.vault, calls)  # the verifier fetches the key sets too
    finally:
        for b in broken:
            b.server.stop()


def check_recovery(calls: list[Call], start: float, restored: float) -> None:
    summary = describe(calls, start)
    assert check_answers(calls) == [], summary
    slow = slowest(calls)
    assert slow is not None
    assert slow.seconds < FETCH_DEADLINE + MARGIN, (slow, summary)
    for kind in {c.kind for c in calls}:
        same = [c for c in calls if c.kind == kind]
        if kind.startswith("token-warm"):
            assert all(c.status == 200 for c in same), (kind, summary)
            continue
        assert same[0].status == 503, (kind, same[0])
        assert same[0].code == "UNKNOWN", (kind, same[0])
        recovered_in = first_success_after(same, restored)
        assert recovered_in < FETCH_DEADLINE + FAILURE_BACKOFF + MARGIN, (kind, summary)
        assert all(c.status == 200 for c in same if c.sent > restored + recovered_in), kind
    print(summary)  # the figures: pytest -rP tests/faults


def _all_recovered(calls: list[Call], restored: float) -> bool:
    kinds = {c.kind for c in calls if "cold" in c.kind}
    ok = {c.kind for c in calls if c.status == 200 and c.sent >= restored}
    return bool(kinds) and kinds <= ok


def test_key_change(jwks_apis: Apis, rotating: Rotating) -> None:
    """The customer publishes a second key and signs with it: tokens with the old kid keep
    working; tokens with the new kid succeed as soon as each API refetches, which it does
    at once if its last fetch is MIN_REFRESH old, else when it is (meanwhile they are
    refused as TOKEN_INVALID_SIGNATURE, a 4xx, never a 5xx); one refetch per API, not one
    per token."""
    old, new = jws_for("k1"), jws_for("k2", "rsa-2048-other")
    # A bearer of now: the package's, made when it started, may have expired by this last
    # test (the fault suite runs for minutes). Its exchange may refetch the (unchanged) key
    # set if the cached one expired meanwhile: the last fetch is then now.
    requests_then = rotating.server.requests
    bearer = jwks_apis.bearer(rotating.account, old)
    fetched = time.monotonic() if rotating.server.requests > requests_then else rotating.fetched
    fetches_before = rotating.server.requests
    rotating.server.document = {"keys": [jwk_of("k1"), jwk_of("k2", "rsa-2048-other")]}
    requests = [
        ("token-old", jwks_apis.exchange(rotating.account, old)),
        ("token-new", jwks_apis.exchange(rotating.account, new)),
        ("encrypt-old", jwks_apis.encrypt(bearer, old)),
        ("encrypt-new", jwks_apis.encrypt(bearer, new)),
    ]
    changed = time.monotonic()
    with Load("", requests, clients=4, pause=0.1) as load:
        deadline = fetched + MIN_REFRESH + MARGIN + 5
        while time.monotonic() < deadline and not {"token-new", "encrypt-new"} <= {
            c.kind for c in load.snapshot() if c.status == 200
        }:
            time.sleep(0.2)
        time.sleep(1.0)
        calls = load.stop()

    summary = describe(calls, changed)
    allowed = {"token-new": {400}, "encrypt-new": {422}}
    assert check_answers(calls, allowed) == [], summary
    assert all(c.status == 200 for c in calls if c.kind.endswith("-old")), summary
    refused = [c for c in calls if c.status in (400, 422)]
    assert all(c.code == "TOKEN_INVALID_SIGNATURE" for c in refused), refused[:3]
    # Looked up at once if the last fetch is MIN_REFRESH old (the usual case, and this
    # test's when the whole package runs first), else once it is.
    due = max(changed, fetched + MIN_REFRESH)
    for kind in ("token-new", "encrypt-new"):
        accepted_at = first_success_after(calls, changed, kind) + changed
        assert accepted_at < due + MARGIN, (kind, summary)
        assert all(c.status == 200 for c in calls if c.kind == kind and c.sent > accepted_at)
    # One refetch per API for the whole burst of unknown kids, not one per token.
    assert rotating.server.requests - fetches_before <= 2, rotating.server.requests
    print(summary)  # the figures: pytest -rP tests/faults
    assert_jwes_open(jwks_apis.vault, calls)
