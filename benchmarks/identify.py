"""``POST /v1/identify`` with distinct JWS tokens, against in-process ``Verifier.verify`` on
the same cores (DESIGN §12: goal ≥ 0.6).

    .venv/bin/python -m benchmarks.identify [--seconds 10] [--rounds 3] [--workers 2]

Both sides check the same kind of token: ES256, signed fresh for this run, each one distinct
(its own ``sub`` and ``jti``), with profile data to prefill (no ``limit``, so no Redis call
on the path: the verification and the HTTP layer are what is measured). The in-process side
runs one process per worker, each verifying its share of the tokens with a warm account
cache, which is what the server's workers can at best do. The HTTP side is the player as
production runs it (``tokenctl serve player --workers N``, Redis, the player's settings in
Vault), driven by wrk over 32 connections, a different body per request. Rounds alternate;
the script prints medians and the ratio. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks._serve import expect_ok, serve, stop, wait_ready
from benchmarks._wrk import WrkResult, run_wrk_bodies
from shared import Account, AccountStore, PublicKeyValidation, Settings, Vault, Verifier
from shared.identity import Campaign, PlayerSettings, PlayerStore
from shared.ops.bootstrap import bootstrap
from tests.support.openbao import DevServer, free_port
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, pem, private_key, sign

ACCOUNT = "bench"
CAMPAIGN = "1001"
#: Tokens per second either side could reach here, with room: the bodies never repeat.
_RATE_CEILING = 8000


def _tokens(count: int) -> list[str]:
    key = private_key("ec-p256")
    exp = int(time.time()) + 7200
    return [
        sign(
            claims(
                CAMPAIGN,
                sub=f"participant-{n}",
                jti=f"bench-{n}",
                exp=exp,
                profile={"firstname": "Ada", "lastname": "Lovelace", "email": f"p{n}@x.test"},
            ),
            "ES256",
            key,
        )
        for n in range(count)
    ]


def _verify_share(job: tuple[str, str, list[str], float]) -> tuple[int, float]:
    """In a worker process: verify tokens for ``seconds``; (count, elapsed)."""
    addr, root, tokens, seconds = job
    verifier = Verifier(Vault(Settings(vault_addr=addr, vault_token=root)))
    verifier.verify(tokens[0], account_id=ACCOUNT, campaign_id=CAMPAIGN)  # warm the cache
    done, start = 0, time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end and done < len(tokens):
        verifier.verify(tokens[done], account_id=ACCOUNT, campaign_id=CAMPAIGN)
        done += 1
    return done, time.perf_counter() - start


def _in_process(addr: str, root: str, tokens: list[str], processes: int, seconds: float) -> float:
    """Verifies per second over ``processes`` processes (each its own slice of tokens)."""
    shares = [(addr, root, tokens[i::processes], seconds) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_verify_share, shares)
    return sum(done / elapsed for done, elapsed in results)


def main() -> None:
    """Alternate in-process and HTTP rounds; print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    per_round = _RATE_CEILING * args.seconds
    print(f"signing {per_round * args.rounds * 2:,} distinct ES256 tokens ...", flush=True)
    bao = DevServer().start()
    redis = RedisServer().start()
    player: subprocess.Popen[bytes] | None = None
    results: dict[str, list[float]] = {"ours": [], "in-process": []}
    wrk_results: list[WrkResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            vault = Vault(Settings(vault_addr=bao.addr, vault_token=bao.token))
            bootstrap(vault)
            AccountStore(vault).create(
                Account(
                    id=ACCOUNT,
                    validation=PublicKeyValidation(
                        algorithms=("ES256",), public_key_pem=pem("ec-p256")
                    ),
                )
            )
            PlayerStore(vault).put(
                ACCOUNT,
                PlayerSettings(campaigns={CAMPAIGN: Campaign(title="Benchmark")}),
                expected=0,
            )
            port = free_port()
            player = serve(
                "player",
                port,
                args.workers,
                {
                    "VAULT_ADDR": bao.addr,
                    "VAULT_TOKEN": bao.token,
                    "REDIS_URL": redis.url,
                    # One account at thousands a second: measured with the limit off.
                    "PLAYER_RATE_LIMIT_PER_SECOND": "0",
                },
            )
            url = f"http://127.0.0.1:{port}/v1/identify"
            wait_ready(f"http://127.0.0.1:{port}/health/ready", player)
            for n in range(args.rounds):
                tokens = _tokens(per_round * 2)
                for_http, for_process = tokens[:per_round], tokens[per_round:]
                bodies = Path(tmp) / f"bodies-{n}.txt"
                bodies.write_text(
                    "".join(
                        json.dumps({"account": ACCOUNT, "campaign": CAMPAIGN, "token": t}) + "\n"
                        for t in for_http
                    )
                )
                expect_ok(httpx.post(url, content=bodies.read_text().split("\n", 1)[0]))
                results["in-process"].append(
                    _in_process(bao.addr, bao.token, for_process, args.workers, args.seconds)
                )
                run = run_wrk_bodies(
                    url,
                    bodies,
                    "application/json",
                    seconds=args.seconds,
                    connections=args.connections,
                )
                if run.requests > per_round:
                    print(f"warning: {run.requests} requests for {per_round} tokens: some repeated")
                wrk_results.append(run)
                results["ours"].append(run.rps)
        finally:
            stop(player)
            bao.stop()
            redis.stop()

    ours, local = statistics.median(results["ours"]), statistics.median(results["in-process"])
    print(
        f"{args.rounds} rounds x {args.seconds}s, medians; {args.workers} player workers and "
        f"{args.workers} verifying processes; wrk at {args.connections} connections"
    )
    print(f"{'':<44}{'per s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    p50 = statistics.median(r.p50 for r in wrk_results)
    p99 = statistics.median(r.p99 for r in wrk_results)
    non2xx = sum(r.non2xx + r.socket_errors for r in wrk_results)
    label = "POST /v1/identify (JWS ES256, distinct)"
    print(f"{label:<44}{ours:>10.0f}{p50:>10.2f}{p99:>10.2f}{non2xx:>10}")
    print(f"{'in-process Verifier.verify (same tokens)':<44}{local:>10.0f}")
    print(f"ratio POST /v1/identify / in-process verify: {ours / local:.2f} (goal >= 0.6)")


if __name__ == "__main__":
    main()
