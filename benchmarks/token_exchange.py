"""Token exchanges per second at 32 connections, against OpenBao's own JWT login.

    .venv/bin/python -m benchmarks.token_exchange [--seconds 10] [--rounds 3] [--workers 2]

The closest peer of our ``POST /oauth/token`` (jwt-bearer grant) is OpenBao's
``auth/jwt/login``: both take a signed JWT, check it against a configured public key and
mint a credential. Both are driven by the same load tool (wrk, Debian package; installed
when missing and running as root) with distinct freshly signed ES256 secure tokens (a new
one per request, the same set for both sides), 32 connections, alternating rounds in the
same run; the script prints medians and the ratio (target: ours >= OpenBao).

Our side runs as in production: ``tokenctl serve authz --workers N`` (uvicorn, Redis for the
shared replay store), bearers signed by Transit (concurrent ones batched into one call).
Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import hvac

from benchmarks._serve import expect_ok, serve, stop, wait_ready
from benchmarks._tokens import sign_many, write_lines
from benchmarks._wrk import WrkResult, run_wrk_bodies
from shared import Account, AccountStore, PublicKeyValidation, Settings, Vault
from shared.ops.bootstrap import bootstrap
from shared.wire import JWT_BEARER
from tests.support.openbao import DevServer, free_port
from tests.support.redis_server import RedisServer
from tests.support.tokens import pem

FORM = "application/x-www-form-urlencoded"
#: Exchanges per second either side could reach here, with room: no token is sent twice
#: in a round (a round sends the same set as the others).
_RATE_CEILING = 6000


def main() -> None:
    """Run both load tests in alternating rounds and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-exchange-")
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
        now = int(time.time())
        count = _RATE_CEILING * args.seconds
        print(f"signing {count:,} distinct ES256 tokens ...", flush=True)
        tokens = sign_many(
            count, {"sub": "participant-42", "campaignId": "1001", "iat": now, "jti": "x-{n}"}
        )

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
        vault_bodies = write_lines(
            Path(workdir) / "openbao.txt",
            [json.dumps({"role": "bench", "jwt": token}) for token in tokens],
        )
        first = vault_bodies.read_text().split("\n", 1)[0]
        expect_ok(httpx.post(f"{bao.addr}/v1/auth/jwt/login", content=first))

        port = free_port()
        api = serve(
            "authz",
            port,
            args.workers,
            {
                "VAULT_ADDR": bao.addr,
                "VAULT_TOKEN": bao.token,
                "REDIS_URL": redis.url,
                "AUTHZ_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_JWT_BEARER_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND": "0",
            },
        )
        ours_url = f"http://127.0.0.1:{port}/oauth/token"
        wait_ready(f"http://127.0.0.1:{port}/health/ready", api)
        ours_bodies = write_lines(
            Path(workdir) / "ours.txt",
            [
                urlencode({"grant_type": JWT_BEARER, "client_id": "bench", "assertion": token})
                for token in tokens
            ],
        )
        expect_ok(
            httpx.post(
                ours_url,
                content=ours_bodies.read_text().split("\n", 1)[0],
                headers={"Content-Type": FORM},
            )
        )

        results: dict[str, list[WrkResult]] = {"ours": [], "openbao": []}
        for _ in range(args.rounds):
            for name, url, bodies, kind in (
                ("openbao", f"{bao.addr}/v1/auth/jwt/login", vault_bodies, "application/json"),
                ("ours", ours_url, ours_bodies, FORM),
            ):
                run = run_wrk_bodies(
                    url, bodies, kind, seconds=args.seconds, connections=args.connections
                )
                if run.requests > count:
                    print(f"note: {name}: {run.requests} requests for {count} tokens")
                results[name].append(run)
    finally:
        stop(api)
        bao.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return float(statistics.median(getattr(r, key) for r in results[name]))

    print(
        f"{args.connections} connections, {args.rounds} rounds x {args.seconds}s, medians; "
        f"our API with {args.workers} uvicorn workers"
    )
    print(f"{'':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    labels = {"ours": "POST /oauth/token (jwt-bearer)", "openbao": "OpenBao auth/jwt/login"}
    for name, label in labels.items():
        print(
            f"{label:<34}{med(name, 'rps'):>10.0f}{med(name, 'p50'):>10.2f}"
            f"{med(name, 'p99'):>10.2f}{sum(r.non2xx for r in results[name]):>10}"
        )
    ratio = med("ours", "rps") / med("openbao", "rps")
    print(
        f"ratio ours / OpenBao: throughput {ratio:.2f} (target >= 1.00: "
        f"{'met' if ratio >= 1 else 'NOT met'}), "
        f"p50 {med('ours', 'p50') / med('openbao', 'p50'):.2f}, "
        f"p99 {med('ours', 'p99') / med('openbao', 'p99'):.2f}"
    )


if __name__ == "__main__":
    main()
