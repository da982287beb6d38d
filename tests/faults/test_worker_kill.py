"""A worker process of ``tokenctl serve crypto --workers 2`` killed (SIGKILL) under load.

What counts as lost: a request in flight on the killed worker never gets an answer; its
client sees the connection break (no HTTP status), cannot know whether it was served, and
sends it again. Encrypting is safe to repeat (nothing is recorded; a second JWE of the same
JWS is as good as the first), so a client that retries once after a transport error gets
every JWE it asked for. Expected: at most one broken call per client connection that was on
the killed worker, each answered 200 when resent, no HTTP error at all, and uvicorn's supervisor
starting a new worker on its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from benchmarks._serve import cpu_seconds, serve, stop, worker_pids
from shared import Account, Settings, Vault
from tests.support.authz import Authz
from tests.support.authz import serve as serve_authz
from tests.support.crypto import served_crypto_env
from tests.support.faults.load import Load, describe
from tests.support.faults.stack import assert_jwes_open
from tests.support.openbao import free_port
from tests.support.tokens import claims, sign

CLIENTS = 6
#: How soon uvicorn must have a new worker serving (it checks its workers about every
#: 0.5 s; a worker needs a second or two to import the app on a loaded machine).
RESTART_BOUND = 15.0


@pytest.fixture
def authz(settings: Settings, vault: object) -> Iterator[Authz]:
    with serve_authz(settings, rate_limit_per_second=0.0) as server:
        yield server


def ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "tokenctl serve exited"
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not become ready")


def wait_for_workers(
    process: subprocess.Popen[bytes], gone: int, timeout: float
) -> tuple[list[int], float]:
    """Wait until two workers run and ``gone`` is not one of them: (pids, seconds)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        pids = worker_pids(process)
        if len(pids) == 2 and gone not in pids:
            return pids, time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"no new worker after {timeout} s: {worker_pids(process)}")


def test_crypto_worker_killed(
    settings: Settings, authz: Authz, make_account: Callable[..., Account]
) -> None:
    """SIGKILL one of two workers mid-load: only calls in flight on it break (a transport
    error, at most one per client), each succeeds when sent again, every other call is 200,
    and a new worker serves within RESTART_BOUND."""
    account = make_account()
    jws = sign(claims(), "ES256", "ec-p256")
    bearer = authz.jwt_bearer(account.id, jws).json()["access_token"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = served_crypto_env(settings, authz)
    process = serve("crypto", port, 2, env)
    try:
        ready(url, process)
        workers = worker_pids(process)
        assert len(workers) == 2, workers

        def encrypt(http: httpx.Client) -> httpx.Response:
            return http.post(
                "/v1/encrypt", json={"token": jws}, headers={"Authorization": f"Bearer {bearer}"}
            )

        with Load(
            url, [("encrypt", encrypt)], clients=CLIENTS, pause=0.005, retry_transport_errors=True
        ) as load:
            # Kill a worker that holds some of the clients' keep-alive connections (the
            # kernel may have handed them all to one): the one that worked the most.
            start_cpu = {pid: cpu_seconds(pid) for pid in workers}
            time.sleep(1.0)
            victim = max(workers, key=lambda pid: cpu_seconds(pid) - start_cpu[pid])
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            new_workers, restarted_in = wait_for_workers(process, victim, RESTART_BOUND)
            time.sleep(1.5)
            calls = load.stop()
        (newcomer,) = set(new_workers) - set(workers)
        # The newcomer takes its share of new connections.
        before = cpu_seconds(newcomer)
        for _ in range(60):
            with httpx.Client(base_url=url, timeout=10) as http:
                assert encrypt(http).status_code == 200
        used = cpu_seconds(newcomer) - before
    finally:
        stop(process)

    summary = describe(calls, killed) + f"\nnew worker process after {restarted_in:.1f}s"
    broken = [c for c in calls if c.status == 0]
    assert broken, f"no call was in flight on the killed worker:\n{summary}"
    assert len([c for c in broken if not c.kind.endswith("/retry")]) <= CLIENTS, summary
    assert all(killed - 1.0 <= c.received <= killed + 2.0 for c in broken), summary
    # Every broken call succeeds when sent again (a resend may meet the dying worker too).
    first_broken = [c for c in broken if not c.kind.endswith("/retry")]
    resent_ok = [c for c in calls if c.kind.endswith("/retry") and c.status == 200]
    assert len(resent_ok) == len(first_broken), summary
    assert [c for c in calls if c.status not in (0, 200)] == [], summary
    assert restarted_in < RESTART_BOUND
    assert used > 0, "the new worker served nothing"
    assert_jwes_open(Vault(settings), calls)
    print(summary)  # the figures: pytest -rP tests/faults
