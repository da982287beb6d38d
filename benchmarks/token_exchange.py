"""Token exchanges per second at 32 connections, against OpenBao's own JWT login.

    .venv/bin/python -m benchmarks.token_exchange [--seconds 10] [--rounds 3] [--workers 2]

The closest peer of our ``POST /oauth/token`` (jwt-bearer grant) is OpenBao's
``auth/jwt/login``: both take a signed JWT, check it against a configured public key and
mint a credential. Both are driven by the same load tool (wrk, Debian package; installed
when missing and running as root) with the same ES256 secure token, 32 connections,
alternating rounds in the same run; the script prints medians and the ratio.

Our side runs as in production: ``tokenctl serve authz --workers N`` (uvicorn, Redis for the
shared replay store), bearers signed by Transit (concurrent ones batched into one call).
Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import hvac

from shared import Account, AccountStore, PublicKeyValidation, Settings, Vault
from shared.authorization import JWT_BEARER
from shared.bootstrap import bootstrap
from tests.openbao import DevServer, free_port
from tests.redis_server import RedisServer
from tests.tokens import claims, pem, sign

_LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "{content_type}"
"""


def _wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        return "wrk"
    sys.exit("wrk is required: apt-get install wrk")


def _run_wrk(
    url: str, body: str, content_type: str, seconds: int, connections: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA.format(body=json.dumps(body), content_type=content_type))
    try:
        out = subprocess.run(
            [
                _wrk(),
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    return _parse(out)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _parse(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": float(errors.group(1)) if errors else 0.0}


def _expect_ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        sys.exit(
            f"set-up failed: {response.request.url} -> {response.status_code}: {response.text}"
        )


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit(f"{url} did not come up")


def main() -> None:
    """Run both load tests in alternating rounds and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    bao = DevServer().start()
    redis = RedisServer().start()  # several workers share the replay store, as in production
    api: subprocess.Popen[bytes] | None = None
    try:
        vault = Vault(Settings(vault_addr=bao.addr, vault_token=bao.token))
        bootstrap(vault)
        AccountStore(vault).create(
            Account(
                id="bench",
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        token = sign(claims(exp=int(time.time()) + 7200), "ES256", "ec-p256")

        # OpenBao's JWT auth, configured with the same public key.
        client = hvac.Client(url=bao.addr, token=bao.token)
        client.sys.enable_auth_method("jwt", path="jwt")
        client.auth.jwt.configure(
            jwt_validation_pubkeys=[pem("ec-p256")], jwt_supported_algs=["ES256"], path="jwt"
        )
        client.auth.jwt.create_role(
            "bench",
            role_type="jwt",
            user_claim="sub",
            allowed_redirect_uris=[],
            bound_subject="participant-42",
            token_policies=["default"],
            token_ttl="5m",
            path="jwt",
        )
        vault_body = json.dumps({"role": "bench", "jwt": token})
        _expect_ok(httpx.post(f"{bao.addr}/v1/auth/jwt/login", content=vault_body))

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AUTHZ_"))}
        env.update(
            VAULT_ADDR=bao.addr,
            VAULT_TOKEN=bao.token,
            REDIS_URL=redis.url,
            AUTHZ_RATE_LIMIT_PER_SECOND="0",
        )
        api = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "tokenctl"),
                "serve",
                "authz",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ours_url = f"http://127.0.0.1:{port}/oauth/token"
        _wait(f"http://127.0.0.1:{port}/health/ready")
        ours_body = urlencode({"grant_type": JWT_BEARER, "client_id": "bench", "assertion": token})
        _expect_ok(
            httpx.post(
                ours_url,
                content=ours_body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        )

        results: dict[str, list[dict[str, float]]] = {"ours": [], "openbao": []}
        for _ in range(args.rounds):
            results["openbao"].append(
                _run_wrk(
                    f"{bao.addr}/v1/auth/jwt/login",
                    vault_body,
                    "application/json",
                    args.seconds,
                    args.connections,
                )
            )
            results["ours"].append(
                _run_wrk(
                    ours_url,
                    ours_body,
                    "application/x-www-form-urlencoded",
                    args.seconds,
                    args.connections,
                )
            )
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=20)
        bao.stop()
        redis.stop()

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print(
        f"{args.connections} connections, {args.rounds} rounds x {args.seconds}s, medians; "
        f"our API with {args.workers} uvicorn workers"
    )
    print(f"{'':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    labels = {"ours": "POST /oauth/token (jwt-bearer)", "openbao": "OpenBao auth/jwt/login"}
    for name, label in labels.items():
        print(
            f"{label:<34}{med(name, 'rps'):>10.0f}{med(name, 'p50'):>10.2f}"
            f"{med(name, 'p99'):>10.2f}{sum(r['non2xx'] for r in results[name]):>10.0f}"
        )
    print(
        f"ratio ours / OpenBao: throughput {med('ours', 'rps') / med('openbao', 'rps'):.2f}, "
        f"p50 {med('ours', 'p50') / med('openbao', 'p50'):.2f}, "
        f"p99 {med('ours', 'p99') / med('openbao', 'p99'):.2f}"
    )


if __name__ == "__main__":
    main()
