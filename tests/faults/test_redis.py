"""The replay store (Redis) killed, restarted and frozen while clients authenticate with client
assertions (RFC 7523 client_credentials) and exchange secure tokens.

Expected (docs/decisions.md, Authorization API): while Redis cannot say whether a ``jti`` is
new, a client assertion is refused with 503 + Retry-After (fail closed), never accepted; a
replayed assertion is never accepted, before, during or after the outage (Redis persists
its data, so a restart remembers the ``jti``s); the jwt-bearer grant, which needs no replay
store, is not affected; once Redis is back, new assertions succeed at once.
"""

from __future__ import annotations

import inspect
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared import Account, Settings
from shared.server.replay_store import RedisReplayStore
from shared.wire import CLIENT_ASSERTION_TYPE, JWT_BEARER
from tests.support.authz import Authz, serve
from tests.support.faults.load import Load, check_answers, describe, first_success_after, slowest
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign

#: RedisReplayStore's timeout per connect and per command (not a setting).
REDIS_TIMEOUT: float = inspect.signature(RedisReplayStore).parameters["timeout"].default
#: A frozen Redis costs a connect or a command timeout, and one retry: two timeouts.
CALL_BOUND = 2 * REDIS_TIMEOUT + 2.5
RECOVERY_BOUND = 2.0


def persistent_redis(directory: Path, port: int | None = None) -> RedisServer:
    """A Redis that writes every command to its append-only file before answering, as a
    replay store should (a restart that forgot live jtis would let them be replayed)."""
    return RedisServer(
        "--appendonly", "yes", "--appendfsync", "always", "--dir", str(directory), port=port
    ).start()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = persistent_redis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


class Client:
    """A customer authenticating with a fresh client assertion per call (and remembering
    which assertion got which answer)."""

    def __init__(self, authz: Authz, account: Account) -> None:
        self.authz = authz
        self.account = account
        self.sent: list[tuple[str, int]] = []

    def post(self, http: httpx.Client, assertion: str) -> httpx.Response:
        return http.post(
            f"{self.authz.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )

    def fresh(self, http: httpx.Client) -> httpx.Response:
        assertion = self.authz.client_assertion(self.account.id, "ES256", "ec-p256")
        response = self.post(http, assertion)
        self.sent.append((assertion, response.status_code))
        return response

    def replay(self, assertion: str) -> Callable[[httpx.Client], httpx.Response]:
        return lambda http: self.post(http, assertion)

    def jwt_bearer(self, http: httpx.Client) -> httpx.Response:
        token = sign(claims(), "ES256", "ec-p256")
        return http.post(
            f"{self.authz.url}/oauth/token",
            data={"grant_type": JWT_BEARER, "client_id": self.account.id, "assertion": token},
        )


def test_replay_store_gone(
    settings: Settings, make_account: Callable[..., Account], redis: RedisServer, tmp_path: Path
) -> None:
    """Redis killed then restarted with its data, then frozen (SIGSTOP) then resumed: client
    assertions get 503 + Retry-After while it is unavailable and 200 again once it is back;
    a replayed assertion is refused (401) or 503, never 200; jwt-bearer exchanges all
    succeed; every assertion refused with 503 may be sent again afterwards and is either
    accepted or, if Redis recorded it after all, refused as used: never accepted twice."""
    account = make_account()
    with serve(settings, redis_url=redis.url, rate_limit_per_second=0.0) as authz:
        client = Client(authz, account)
        used = authz.client_assertion(account.id, "ES256", "ec-p256")
        with httpx.Client(timeout=10) as http:
            assert client.post(http, used).status_code == 200
        requests = [
            ("fresh", client.fresh),
            ("replay", client.replay(used)),
            ("jwt-bearer", client.jwt_bearer),
            ("fresh", client.fresh),
        ]
        restored: list[tuple[str, float]] = []
        with Load("", requests, clients=4, pause=0.02) as load:
            start = time.monotonic()
            time.sleep(0.5)
            assert redis.process is not None
            redis.process.kill()  # gone, mid-traffic
            redis.process.wait()
            time.sleep(1.5)
            restarted = persistent_redis(tmp_path, port=redis.port)
            redis.process = restarted.process  # the fixture stops it
            restored.append(("killed", time.monotonic()))
            time.sleep(1.0)
            redis.process.send_signal(signal.SIGSTOP)  # hung: connections open, no answers
            time.sleep(2.0)
            redis.process.send_signal(signal.SIGCONT)
            restored.append(("frozen", time.monotonic()))
            time.sleep(1.0)
            calls = load.stop()

        summary = describe(calls, start)
        assert check_answers(calls, {"replay": {401}}) == [], summary
        assert {c.status for c in calls if c.kind == "replay"} <= {401, 503}, summary
        assert all(c.status == 200 for c in calls if c.kind == "jwt-bearer"), summary
        unavailable = [c for c in calls if c.kind == "fresh" and c.status == 503]
        assert len(unavailable) >= 2, summary  # both outages were seen
        assert {c.code for c in unavailable} == {"REPLAY_STORE_UNAVAILABLE"}
        slow = slowest(calls)
        assert slow is not None
        assert slow.seconds < CALL_BOUND, (slow, summary)
        for fault, back in restored:
            recovered_in = first_success_after(calls, back, "fresh")
            assert recovered_in < RECOVERY_BOUND, (fault, recovered_in, summary)
        last = restored[-1][1]
        assert all(c.status == 200 for c in calls if c.kind == "fresh" and c.sent > last + 0.5)

        # The 503s were "retry later", not "used": sent again, each is accepted at most once.
        again = [assertion for assertion, status in client.sent if status == 503]
        with httpx.Client(timeout=10) as http:
            retried = [client.post(http, assertion).status_code for assertion in again]
            replayed = [client.post(http, assertion).status_code for assertion in again]
        assert set(retried) <= {200, 401}
        assert retried.count(200) >= len(again) // 2, retried
        assert set(replayed) == {401}
        print(summary)  # the figures: pytest -rP tests/faults
        # Every assertion accepted during the run is still remembered.
        accepted = [assertion for assertion, status in client.sent if status == 200]
        with httpx.Client(timeout=10) as http:
            assert {client.post(http, a).status_code for a in accepted[::10]} == {401}
