"""Finding 1 of the red-team review: one tenant's dripping JWKS endpoint must not slow
another tenant down (both APIs over real HTTP, real OpenBao, real local key servers).

Tenant A's key server drips its status line and headers a byte every 0.2 s; 40 clients
exchange tokens naming A's account (no credentials needed) and 40 encrypt with A's bearer.
Meanwhile tenant B, whose key set both APIs hold, exchanges and encrypts: its median must stay
under 100 ms and its p99 under 500 ms, and A's calls are refused at once with a retryable 503,
not queued.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from shared.wire import JWT_BEARER
from tests.support.faults.customer import Apis, jwk_of, jws_for
from tests.support.faults.load import Call, Load, describe
from tests.support.faulty_servers import DrippingServer
from tests.support.jwks_server import JwksServer

#: What tenant B's calls may take at the median while A attacks.
MEDIAN_BOUND = 0.100
#: And at the 99th percentile. A starved call waits for A's 3 s fetch deadline (the old code
#: answered B fewer than twice in 8 s); a sixth of that leaves room for this 2-core machine's
#: noise, which put single calls at 0.25-0.39 s while 80 attackers share the test's one GIL
#: (CI runs of 2026-12-02) with the median still near 10 ms.
P99_BOUND = 0.500
ATTACKERS = 40
#: Each attacker's pause after an answer. Refused at once, attackers with no pause measure
#: the CPU both APIs (in this one test process, one GIL) spend answering 503s, not threads
#: held: at 0.05 s (~1,300 refusals a second) B's p99 was 220-245 ms, for rate limits to
#: bound. On today's code the pause is moot: each call is held for seconds.
ATTACK_PAUSE = 1.0
#: How long B is measured under attack (the fetch deadline is 3 s: several deadlines).
MEASURE_SECONDS = 8.0


def _jwks_response() -> bytes:
    body = json.dumps({"keys": [jwk_of("k1")]}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


def _p99(calls: list[Call]) -> float:
    seconds = sorted(c.seconds for c in calls)
    return statistics.quantiles(seconds, n=100, method="inclusive")[98]


def test_dripping_endpoint_of_one_tenant_does_not_slow_another(jwks_apis: Apis) -> None:
    """Under 40+40 concurrent calls for tenant A (dripping JWKS), tenant B's exchanges and
    encrypts keep median < 100 ms and p99 < 500 ms; A's calls get 503 + Retry-After quickly."""
    token = jws_for("k1")
    dripping = DrippingServer(_jwks_response()).start()  # honest at first
    healthy = JwksServer().start()
    healthy.document = {"keys": [jwk_of("k1")]}
    try:
        tenant_a = jwks_apis.account(f"{dripping.url}&crypto")
        a_bearer = jwks_apis.bearer(tenant_a, token)  # the Authorization API holds A's keys
        a_cold = jwks_apis.account(f"{dripping.url}&cold")  # nobody fetched this one
        tenant_b = jwks_apis.account(healthy.url)
        b_bearer = jwks_apis.bearer(tenant_b, token)

        def tenant_b_calls() -> list[tuple[str, Any]]:
            return [
                ("b-token", jwks_apis.exchange(tenant_b, token)),
                ("b-encrypt", jwks_apis.encrypt(b_bearer, token)),
            ]

        with httpx.Client(timeout=30) as http:  # the Crypto API holds B's keys too
            assert jwks_apis.encrypt(b_bearer, token)(http).status_code == 200
        with Load("", tenant_b_calls(), clients=2, pause=0.01, timeout=20) as quiet:
            time.sleep(2.0)
            baseline = quiet.stop()  # the same calls without the attack, for the report
        dripping.interval = 0.2  # from now on: a byte every 0.2 s, 3 s cut ~15 bytes in
        spec = {
            "seconds": MEASURE_SECONDS + 2.0,
            "pause": ATTACK_PAUSE,
            "calls": [
                {
                    "kind": "a-token",
                    "clients": ATTACKERS,
                    "url": f"{jwks_apis.authz.url}/oauth/token",
                    "data": {"grant_type": JWT_BEARER, "client_id": a_cold.id, "assertion": token},
                },
                {
                    "kind": "a-encrypt",
                    "clients": ATTACKERS,
                    "url": f"{jwks_apis.crypto.url}/v1/encrypt",
                    "json": {"token": token},
                    "headers": {"Authorization": f"Bearer {a_bearer}"},
                },
            ],
        }
        with subprocess.Popen(
            [sys.executable, "-m", "tests.support.faults.attacker", json.dumps(spec)],
            stdout=subprocess.PIPE,
        ) as attackers:
            time.sleep(1.0)  # the attack is in full swing
            with Load("", tenant_b_calls(), clients=2, pause=0.01, timeout=20) as victim:
                start = time.monotonic()
                time.sleep(MEASURE_SECONDS)
                measured = victim.stop()
            ready = httpx.get(f"{jwks_apis.authz.url}/health/ready", timeout=5)
            output, _ = attackers.communicate(timeout=60)
        attack_calls = json.loads(output)
    finally:
        dripping.stop()
        healthy.stop()
    summary = describe(measured, start)
    figures: dict[str, float] = {}
    medians: dict[str, float] = {}
    for kind in ("b-token", "b-encrypt"):
        calls = [c for c in measured if c.kind == kind]
        # Today's code starves B: fewer than two answers in the whole 8 s.
        assert len(calls) >= 10, (kind, summary)
        assert all(c.status == 200 for c in calls), (kind, summary)
        figures[kind] = _p99(calls)
        medians[kind] = statistics.median(c.seconds for c in calls)
    quiet_p99 = {k: _p99([c for c in baseline if c.kind == k]) for k in figures}
    print(f"tenant B p99 without attack: {quiet_p99}")  # pytest -rP
    print(f"tenant B under attack: median {medians}, p99 {figures}; calls: {len(measured)}")
    print(summary)
    assert all(m < MEDIAN_BOUND for m in medians.values()), (medians, summary)
    assert all(p99 < P99_BOUND for p99 in figures.values()), (figures, summary)
    statuses = {(c["kind"], c["status"], c["retry_after"]) for c in attack_calls}
    print(f"tenant A: {len(attack_calls)} calls, answers {sorted(statuses)}")
    assert {s for _, s, _ in statuses} == {503}, statuses
    assert all(retry for _, _, retry in statuses), statuses
    quick = [c for c in attack_calls if c["seconds"] < 0.5]
    assert len(quick) > len(attack_calls) * 0.9, sorted(c["seconds"] for c in attack_calls)[-20:]
    for kind in ("a-token", "a-encrypt"):  # the reason is named
        details = [c["body"] for c in attack_calls if c["kind"] == kind]
        assert any("too many requests wait" in d for d in details), (kind, details[:3])
    assert ready.status_code == 200, ready.text  # the caps keep threads free for others


def test_caller_is_told_nothing_of_what_the_endpoint_answered(jwks_apis: Apis) -> None:
    """Finding 6: an endpoint answering a redirect, or a body without keys, tells the caller
    nothing of its answer but, in our words, the status (issue 13: a redirect is a refusal,
    422 JWKS_REFUSED; no Location, no content): the Crypto API is no port scanner."""
    token = jws_for("k1")
    server = JwksServer().start()
    server.document = {"keys": [jwk_of("k1")]}
    try:
        account = jwks_apis.account(server.url)
        bearer = jwks_apis.bearer(account, token)  # the Crypto API has not fetched it yet
        answers = []
        for status, body in ((302, None), (200, b'{"status": "sealed-vault-health"}')):
            server.status, server.body = status, body
            with httpx.Client(timeout=30) as http:
                answers.append(jwks_apis.encrypt(bearer, token)(http))
            time.sleep(5.5)  # past the fetcher's back-off: the next call fetches again
    finally:
        server.stop()
    redirect, no_keys = answers
    assert redirect.status_code == 422, redirect.text
    assert redirect.json()["detail"] == (
        "the account's JWKS endpoint answered HTTP 302: its URL is wrong or closed to us, "
        "and retrying will not help; fix the endpoint or the account's jwks_uri"
    )
    assert no_keys.status_code == 503, no_keys.text
    detail = no_keys.json()["detail"]
    assert detail == "the account's JWKS endpoint cannot be used now; retry later", detail
