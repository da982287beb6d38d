"""`tokenctl serve authz` runs the Authorization API as a real process (several workers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shared import Account, Settings
from shared.wire import CLIENT_ASSERTION_TYPE, JWT_BEARER
from tests.support.authz import serve
from tests.support.openbao import free_port
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, sign


def tokenctl() -> str:
    return str(Path(sys.executable).parent / "tokenctl")


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll ``url`` until it answers 200; fail if the server exits or 30 s pass."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.1)


def clean_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AUTHZ_", "REDIS_"))}
    env.update(VAULT_ADDR=settings.vault_addr, VAULT_TOKEN=settings.vault_token or "")
    return env


def test_several_workers_need_redis(settings: Settings) -> None:
    """Without REDIS_URL, several authz workers are refused (each would have its own replay
    store), with a one-line reason and exit 4."""
    result = subprocess.run(
        [tokenctl(), "serve", "authz", "--port", str(free_port()), "--workers", "2"],
        env=clean_env(settings),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 4
    assert "REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_authz_worker_without_redis_needs_the_single_instance_setting(
    settings: Settings,
) -> None:
    """`tokenctl serve authz` without REDIS_URL and without AUTHZ_SINGLE_INSTANCE exits 4 with
    one line naming both (no traceback), instead of serving with a private replay store."""
    result = subprocess.run(
        [tokenctl(), "serve", "authz", "--port", str(free_port())],
        env=clean_env(settings),
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "REDIS_URL" in lines[0]
    assert "AUTHZ_SINGLE_INSTANCE" in lines[0]
    assert "Traceback" not in result.stderr


def _first_note(argv: list[str], env: dict[str, str]) -> list[str]:
    """The notes `tokenctl serve` prints before it serves; the server is then stopped."""
    process = subprocess.Popen(
        [tokenctl(), "serve", *argv, "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:
            lines.append(line.strip())
            if line.startswith("serving "):
                return lines
        raise AssertionError(lines)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)  # drains and closes stderr


def test_workers_default_to_the_cores(settings: Settings, redis_server: RedisServer) -> None:
    """Without --workers, one worker per core (DESIGN §9); the Authorization API without
    REDIS_URL (one instance, AUTHZ_SINGLE_INSTANCE=1) runs one, and says why."""
    cores = os.cpu_count() or 1
    env = clean_env(settings)
    crypto = _first_note(["crypto"], {**env, "AUTHZ_ISSUER": "http://127.0.0.1:1"})
    assert crypto[-1].endswith(f"({cores} worker(s))"), crypto
    alone = _first_note(["authz"], {**env, "AUTHZ_SINGLE_INSTANCE": "1"})
    assert alone[-1].endswith("(1 worker(s))"), alone
    if cores > 1:
        assert "without REDIS_URL each authz worker would keep its own replay store" in alone[0]
    shared = _first_note(["authz"], {**env, "REDIS_URL": redis_server.url})
    assert shared[-1].endswith(f"({cores} worker(s))"), shared


@pytest.mark.parametrize("workers", ["0", "-1", "x", "1000"])
def test_impossible_worker_counts_are_usage_errors(settings: Settings, workers: str) -> None:
    result = subprocess.run(
        [tokenctl(), "serve", "crypto", "--workers", workers],
        env=clean_env(settings),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "--workers" in result.stderr or "workers" in result.stderr


def test_serve_authz_with_workers(
    settings: Settings, make_account: Callable[..., Account], redis_server: RedisServer
) -> None:
    """With two workers sharing Redis the API answers liveness, metadata (issuer defaulting
    to host:port) and token exchanges; a client assertion is single-use across workers; the
    access log is JSON without tokens; SIGTERM stops it."""
    account = make_account()
    port = free_port()
    env = clean_env(settings)
    env["REDIS_URL"] = redis_server.url
    process = subprocess.Popen(
        [
            tokenctl(),
            "serve",
            "authz",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health/live", process)
        meta = httpx.get(f"{url}/.well-known/oauth-authorization-server").json()
        assert meta["issuer"] == url
        assertion = sign(claims(), "ES256", "ec-p256")
        response = httpx.post(
            f"{url}/oauth/token",
            data={"grant_type": JWT_BEARER, "client_id": account.id, "assertion": assertion},
        )
        assert response.status_code == 200, response.text
        client_assertion = sign(
            {
                "iss": account.id,
                "sub": account.id,
                "aud": f"{url}/oauth/token",
                "iat": int(time.time()),
                "exp": int(time.time()) + 60,
                "jti": "once",
            },
            "ES256",
            "ec-p256",
        )
        statuses = [
            httpx.post(
                f"{url}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": CLIENT_ASSERTION_TYPE,
                    "client_assertion": client_assertion,
                },
            ).status_code
            for _ in range(8)  # new connections: spread over both workers
        ]
        assert sorted(statuses) == [200] + [401] * 7
        # Counters of both workers add up, whichever worker answers the scrape.
        for _ in range(4):
            metrics = httpx.get(f"{url}/metrics").text
            counted = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("authz_requests_total{") and 'path="/oauth/token"' in line
            )
            assert counted == 9
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        stderr = process.stderr.read().decode() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    assert process.returncode == 0
    # The access log is JSON, one object per line, and carries neither token.
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    exchange = [r for r in records if r.get("path") == "/oauth/token"]
    assert exchange, stderr
    assert exchange[0]["status"] == 200
    assert exchange[0]["client_id"] == account.id
    assert assertion not in stderr
    assert response.json()["access_token"] not in stderr


def test_serve_crypto_with_workers(
    settings: Settings, make_account: Callable[..., Account]
) -> None:
    """`tokenctl serve crypto --workers 2` encrypts with a bearer of the Authorization API,
    its readiness checks Vault and the authz JWKS, and SIGTERM stops it."""
    account = make_account()
    port = free_port()
    with serve(settings, rate_limit_per_second=0.0) as authz:
        env = clean_env(settings)
        env.update(AUTHZ_ISSUER=authz.issuer, AUTHZ_JWKS_URL=f"{authz.url}/.well-known/jwks.json")
        process = subprocess.Popen(
            [tokenctl(), "serve", "crypto", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/health/ready", process)
            token = sign(claims(), "ES256", "ec-p256")
            bearer = authz.jwt_bearer(account.id, token).json()["access_token"]
            response = httpx.post(
                f"{url}/v1/encrypt",
                json={"token": token},
                headers={"Authorization": f"Bearer {bearer}"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["kid"] == f"{account.id}/1"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert process.returncode == 0


def _exchange(port: int, head: bytes, pieces: int = 1) -> bytes:
    """Send ``head`` (a request without body) on a fresh connection, in ``pieces`` writes;
    the first answer line, or b"" when the server closed the connection before answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        step = -(-len(head) // pieces)
        try:
            for start in range(0, len(head), step):
                sock.sendall(head[start : start + step])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-send: the answer, if any, is already in our receive buffer
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            return b""
    return answer.split(b"\r\n", 1)[0]


def _head(*headers: bytes) -> bytes:
    lines = [b"GET /health/live HTTP/1.1", b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_serve_bounds_request_heads(settings: Settings) -> None:
    """`tokenctl serve` refuses a 32 MB header, a 17 KiB one and 5,000 headers with a 431
    (or a closed connection), never a 200, and still serves heads within 16 KiB and 100
    headers, also on a keep-alive connection after a first request."""
    port = free_port()
    env = clean_env(settings)
    env.update(AUTHZ_ISSUER="http://127.0.0.1:9", AUTHZ_JWKS_URL="http://127.0.0.1:9/jwks")
    process = subprocess.Popen(
        [tokenctl(), "serve", "crypto", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    refused = {b"HTTP/1.1 431 Request Header Fields Too Large", b""}
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/live", process)
        huge = _head(b"X-Big: " + b"a" * (32 * 1024 * 1024))
        assert _exchange(port, huge, pieces=64) in refused
        assert _exchange(port, _head(b"X-Big: " + b"a" * (17 * 1024))) in refused
        many = [b"X-H%d: v" % i for i in range(5000)]
        assert _exchange(port, _head(*many)) in refused
        assert _exchange(port, _head(*many[:101])) in refused
        line = _exchange(port, _head(b"X-Big: " + b"a" * (16 * 1024 - 200)), pieces=4)
        assert line == b"HTTP/1.1 200 OK"
        assert _exchange(port, _head(*many[:98])) == b"HTTP/1.1 200 OK"
        # A second request on one connection is bounded afresh, not charged the first's head.
        two = _head(b"X-Big: " + b"a" * (12 * 1024)) * 2
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(two)
            time.sleep(0.5)
            answers = sock.recv(65536)
        assert answers.count(b"HTTP/1.1 200 OK") == 2, answers
        refusal = httpx.get(
            f"http://127.0.0.1:{port}/health/live", headers={"X-Big": "a" * (20 * 1024)}
        )
        assert refusal.status_code == 431
        assert refusal.headers["content-type"] == "application/problem+json"
        assert refusal.json()["code"] == "HEADERS_TOO_LARGE"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


@pytest.mark.parametrize("api", ["authz", "crypto"])
def test_a_busy_port_names_the_flag_to_change(api: str, settings: Settings) -> None:
    """`tokenctl serve` on a port in use is one line naming --port (exit 4), not uvicorn's
    bind error."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = clean_env(settings) | {"AUTHZ_SINGLE_INSTANCE": "1"}
        result = subprocess.run(
            [tokenctl(), "serve", api, "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: CONFIGURATION_INVALID: port {port} on 127.0.0.1 is in use: stop what holds "
        "it, or choose another with --port P"
    ]
