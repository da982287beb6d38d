"""`tokenctl serve authz` runs the Authorization API as a real process (several workers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from shared import Account, Settings
from shared.authorization import JWT_BEARER
from tests.openbao import free_port
from tests.tokens import claims, sign


def test_serve_authz_with_workers(settings: Settings, make_account: Callable[..., Account]) -> None:
    """With two workers the API answers liveness, metadata (issuer defaulting to host:port)
    and a token exchange; SIGTERM stops it."""
    account = make_account()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AUTHZ_"))}
    env.update(VAULT_ADDR=settings.vault_addr, VAULT_TOKEN=settings.vault_token or "")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tokenctl"),
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
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "tokenctl serve did not come up"
            time.sleep(0.1)
        meta = httpx.get(f"{url}/.well-known/oauth-authorization-server").json()
        assert meta["issuer"] == url
        assertion = sign(claims(), "ES256", "ec-p256")
        response = httpx.post(
            f"{url}/oauth/token",
            data={"grant_type": JWT_BEARER, "client_id": account.id, "assertion": assertion},
        )
        assert response.status_code == 200, response.text
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
