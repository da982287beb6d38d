"""The bearer is checked before a request body is read (issue 11, finding 2; issue 13,
finding 9: every route and body form)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from benchmarks._serve import rss_mb, serve, stop, wait_ready
from crypto_api.schemas import SINGLE_BODY_MAX
from shared import Account, Settings
from tests.support.authz import Authz
from tests.support.crypto import Crypto, assert_problem, served_crypto_env
from tests.support.openbao import free_port
from tests.support.tokens import claims, sign

#: DESIGN §12: at most this much per worker.
RSS_BUDGET_MB = 150.0
FLOOD = 30
#: A full batch of the largest tokens (1,000 of 16 KiB): what the red team sent, 16.4 MB.
BIG_BATCH = json.dumps({"tokens": ["eyJ" + "A" * 16_380] * 1000}).encode()


@pytest.fixture
def ec(make_account: Callable[..., Account]) -> Account:
    return make_account(algorithms=("ES256",), key="ec-p256")


def _served_crypto(settings: Settings, authz: Authz, port: int) -> Any:
    return serve("crypto", port, 1, served_crypto_env(settings, authz))


def test_unauthenticated_batch_flood_stays_in_budget(
    settings: Settings, authz_for_crypto: Authz, ec: Account
) -> None:
    """30 concurrent 16.4 MB batches without a bearer, to `tokenctl serve crypto`, are each
    a quick 401 while the worker's RSS stays well under the 150 MB budget, and a keep-alive
    connection that sent one is still usable for an encrypt."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _served_crypto(settings, authz_for_crypto, port)
    try:
        wait_ready(f"{url}/health/ready", process)
        peak = [rss_mb(process.pid)]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak.append(rss_mb(process.pid))
                time.sleep(0.02)

        answers: list[tuple[int, float]] = []

        def send() -> None:
            start = time.monotonic()
            response = httpx.post(f"{url}/v1/encrypt/batch", content=BIG_BATCH, timeout=60)
            answers.append((response.status_code, time.monotonic() - start))

        sampler = threading.Thread(target=sample)
        sampler.start()
        senders = [threading.Thread(target=send) for _ in range(FLOOD)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        done.set()
        sampler.join()
        assert sorted(status for status, _ in answers) == [401] * FLOOD
        assert max(seconds for _, seconds in answers) < 20, answers
        assert max(peak) < RSS_BUDGET_MB * 0.8, f"peak RSS {max(peak):.0f} MB"

        bearer = authz_for_crypto.jwt_bearer(ec.id, sign(claims(), "ES256", "ec-p256"))
        with httpx.Client(base_url=url, timeout=30) as http:
            refused = http.post("/v1/encrypt/batch", content=BIG_BATCH)
            assert_problem(refused, 401, "BEARER_INVALID")
            first = refused.extensions["network_stream"].get_extra_info("client_addr")
            served = http.post(
                "/v1/encrypt",
                json={"token": sign(claims(), "ES256", "ec-p256")},
                headers={"Authorization": f"Bearer {bearer.json()['access_token']}"},
            )
            assert served.status_code == 200, served.text
            # The same connection: the unread body was drained, not left to desynchronise it.
            assert served.extensions["network_stream"].get_extra_info("client_addr") == first
    finally:
        stop(process)


def test_oversized_batch_needs_a_bearer_to_hear_413(crypto: Crypto, ec: Account) -> None:
    """A batch body over the limit is a 401 without a valid bearer (its size is nobody's
    business yet) and a 413 PAYLOAD_TOO_LARGE problem with one."""
    oversized = json.dumps({"tokens": ["eyJ" + "A" * 16_380] * 1100}).encode()
    anonymous = crypto.http.post("/v1/encrypt/batch", content=oversized)
    assert_problem(anonymous, 401, "BEARER_INVALID")
    bearer = crypto.bearer(ec.id)
    refused = crypto.http.post(
        "/v1/encrypt/batch", content=oversized, headers={"Authorization": f"Bearer {bearer}"}
    )
    assert_problem(refused, 413, "PAYLOAD_TOO_LARGE")


#: Every form of body a caller may send, each refused for the bearer first (issue 13,
#: finding 9): (body, Content-Type).
BODIES: dict[str, tuple[bytes | Iterator[bytes], str | None]] = {
    "empty": (b"", None),
    "empty-json": (b"", "application/json"),
    "bad-json": (b"{not json", "application/json"),
    "jwt": (b"eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "application/jwt"),
    "empty-jwt": (b"", "application/jwt"),
    "form": (b"token=x", "application/x-www-form-urlencoded"),
    "text": (b"hello", "text/plain"),
    "over-single-limit": (b"x" * (SINGLE_BODY_MAX + 1), "application/json"),
    "over-batch-limit": (b"x" * 20_000_000, "application/json"),
}


def _chunked(size: int) -> Iterator[bytes]:
    """``size`` bytes without a Content-Length: the limit is found while reading."""
    for _ in range(size // 65_536 + 1):
        yield b"x" * 65_536


@pytest.mark.parametrize("path", ["/v1/encrypt", "/v1/encrypt/batch"], ids=["single", "batch"])
@pytest.mark.parametrize(
    "bearer",
    [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
    ids=["missing", "invalid", "basic"],
)
@pytest.mark.parametrize("form", [*BODIES, "chunked-over-limit"])
def test_bad_bearer_before_any_body(
    crypto: Crypto, path: str, bearer: str | None, form: str
) -> None:
    """A missing or invalid bearer is a 401 whatever the body: empty, malformed, raw JWT, of
    another type, or over the route's limit (with or without a Content-Length)."""
    body, content_type = BODIES.get(form, (_chunked(20_000_000), "application/json"))
    headers = {"Content-Type": content_type} if content_type else {}
    if bearer:
        headers["Authorization"] = bearer
    response = crypto.http.post(path, content=body, headers=headers)
    problem = assert_problem(response, 401, "BEARER_INVALID")
    assert response.headers["www-authenticate"].startswith('Bearer realm="crypto-api"')
    assert "truncated" not in problem["detail"], problem


def test_oversized_single_needs_a_bearer_to_hear_413(crypto: Crypto, ec: Account) -> None:
    """A single-token body over its limit is a 413 PAYLOAD_TOO_LARGE problem once the
    bearer is valid (and a 401 before, above)."""
    bearer = crypto.bearer(ec.id)
    refused = crypto.http.post(
        "/v1/encrypt",
        content=b"x" * (SINGLE_BODY_MAX + 1),
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
    )
    assert_problem(refused, 413, "PAYLOAD_TOO_LARGE")
