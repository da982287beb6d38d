"""Encrypt throughput at 32 connections, against OpenBao's own ``transit/encrypt``.

    .venv/bin/python -m benchmarks.encrypt [--seconds 10] [--rounds 3] [--workers 2]
        [--connections 32] [--batch-size 1000] [--rss-requests 200000]

One run measures, everything on 127.0.0.1 (a private OpenBao dev server, a Redis, the
Authorization API for the bearer, the Crypto API as production runs it, ``tokenctl serve
crypto --workers N``, with the rate limit off):

1. **Single token**: ``POST /v1/encrypt`` against OpenBao's ``transit/encrypt`` on an
   RSA-2048 key, both driven by wrk with the same connections, alternating rounds, a
   distinct freshly signed token per request on both sides; medians of req/s, p50, p99 and
   the ratio (target: ours >= OpenBao, p99 <= 25 ms).
2. **Batch**: tokens/s through ``POST /v1/encrypt/batch`` (req/s x batch size, 1,000 tokens
   a request by default) against the in-process limit on the same cores (as many processes
   as the API has workers): joserfc producing the same JWE (``RSA-OAEP-256`` + ``A256GCM``,
   the account's public key, the same JWS), joserfc verifying the ES256 JWS then sealing
   it, which is what the API must do per token, and our own ``EncryptService.encrypt``
   in-process, to split library, service and HTTP costs (target: batch >= 0.8 of the
   in-process verify + seal rate).
3. **Memory**: after the load, ``--rss-requests`` more single-token requests, and each
   worker's RSS (``VmRSS``) before and after. The target is "< 150 MB after 1 million
   requests": ``--rss-requests 1000000`` reproduces it in about 7 minutes on the 2-core
   machine (~2,500 req/s; the script prints the estimate at the measured rate). The
   workers share the requests: ``--rss-requests 2000000`` gives each of 2 workers a million.
4. **Worker count**: single-token req/s with 1, 2 and 3 uvicorn workers, one short round each.

With the defaults a run takes about 3.5 minutes.

Payload size. With an RSA key, ``transit/encrypt`` is plain RSA-OAEP (SHA-256), not a hybrid
scheme: it refuses plaintexts over 190 bytes (256 - 2 x 32 - 2). A typical secure token
(``sub``, ``campaignId``, ``iat``, ``exp``, ES256) is about 240 bytes, which Transit cannot
encrypt at all. So that both sides get the same size, the benchmark's JWS is a small but
valid secure token (compact JSON, no ``iat``) under 190 bytes, and OpenBao encrypts those
same bytes.

Cores. The machine has 2 cores, shared by the server under test and wrk (2 threads). The
tables show the cores each side actually used (CPU seconds / wall seconds, from
``/proc``): the in-process limit uses one core, the API up to all of them.

Where a worker's CPU goes: while a load runs, ``py-spy record --gil -f raw -d 10 -o
out.txt -p <worker pid>`` (``.venv/bin/pip install py-spy``; the worker pids are the
``multiprocessing`` children of ``tokenctl serve``).
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from joserfc import jwe, jws
from joserfc.jwk import ECKey

from benchmarks._serve import (
    busy_seconds,
    cpu_seconds,
    expect_ok,
    rss_mb,
    serve,
    stop,
    wait_ready,
    worker_pids,
)
from benchmarks._tokens import sign_many, write_lines
from benchmarks._wrk import WrkResult, run_wrk_bodies
from shared import Account, AccountStore, KeyStore, PublicKeyValidation, Settings, Vault, Verifier
from shared.ops.bootstrap import bootstrap
from shared.server.bearer_check import BearerChecker
from shared.server.encrypt_service import EncryptService
from shared.server.rate_limits import RateLimiter
from shared.wire import JWT_BEARER
from tests.support.openbao import DevServer, free_port
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, pem, sign

ACCOUNT = "bench"
TRANSIT_KEY = "bench-rsa"
#: Largest plaintext ``transit/encrypt`` takes with an RSA-2048 key (OAEP, SHA-256).
TRANSIT_RSA_2048_MAX = 2048 // 8 - 2 * 32 - 2
SEAL_ALGORITHMS = ["RSA-OAEP-256", "A256GCM"]
JSON = "application/json"


@dataclass(frozen=True)
class Run:
    """A wrk run and the cores the server under test and wrk used meanwhile."""

    wrk: WrkResult
    #: Cores each server process used (CPU seconds per wall second), in pid order.
    cores: tuple[float, ...]
    wrk_cores: float
    #: Cores busy with anything else: other services of the stack, other tenants.
    other_cores: float

    @property
    def server_cores(self) -> float:
        return sum(self.cores)


@dataclass
class Stack:
    """Everything the benchmark starts; :meth:`close` stops whatever got started."""

    bao: DevServer = field(default_factory=DevServer)
    redis: RedisServer = field(default_factory=RedisServer)
    authz: subprocess.Popen[bytes] | None = None
    authz_url: str = ""
    crypto: subprocess.Popen[bytes] | None = None
    crypto_url: str = ""
    #: Requests (HTTP, any answer) sent to the current crypto server since it started.
    served: int = 0

    def start(self, workers: int) -> None:
        """OpenBao with the account and the Transit peer key, Redis, both APIs."""
        self.bao.start()
        self.redis.start()  # the replay store of the authz API, as in production
        vault = self.vault()
        bootstrap(vault)
        AccountStore(vault).create(
            Account(
                id=ACCOUNT,
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        vault.transit_create_key(TRANSIT_KEY, "rsa-2048")
        port = free_port()
        self.authz_url = f"http://127.0.0.1:{port}"
        self.authz = serve(
            "authz",
            port,
            1,
            {
                "VAULT_ADDR": self.bao.addr,
                "VAULT_TOKEN": self.bao.token,
                "REDIS_URL": self.redis.url,
                "AUTHZ_ISSUER": self.authz_url,
                "AUTHZ_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_JWT_BEARER_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND": "0",
                # Long enough for a 1-million-request memory run; each wrk run gets a new one.
                "AUTHZ_TOKEN_LIFETIME": "3600",
            },
        )
        wait_ready(f"{self.authz_url}/health/ready", self.authz)
        self.start_crypto(workers)

    def start_crypto(self, workers: int) -> None:
        """(Re)start the Crypto API with ``workers`` uvicorn workers."""
        stop(self.crypto)
        port = free_port()
        self.crypto_url = f"http://127.0.0.1:{port}"
        self.crypto = serve(
            "crypto",
            port,
            workers,
            {
                "VAULT_ADDR": self.bao.addr,
                "VAULT_TOKEN": self.bao.token,
                "AUTHZ_ISSUER": self.authz_url,
                "AUTHZ_JWKS_URL": f"{self.authz_url}/.well-known/jwks.json",
                "CRYPTO_RATE_LIMIT_PER_SECOND": "0",
                "CRYPTO_BATCH_RATE_LIMIT_PER_SECOND": "0",
                "CRYPTO_BATCH_MAX": "10000",
            },
        )
        self.served = 0
        wait_ready(f"{self.crypto_url}/health/ready", self.crypto)

    def close(self) -> None:
        stop(self.crypto)
        stop(self.authz)
        self.bao.stop()
        self.redis.stop()

    def vault(self) -> Vault:
        return Vault(Settings(vault_addr=self.bao.addr, vault_token=self.bao.token))

    def bao_pids(self) -> list[int]:
        return [self.bao.process.pid] if self.bao.process is not None else []

    def crypto_pids(self) -> list[int]:
        return worker_pids(self.crypto) if self.crypto is not None else []

    def bearer(self) -> str:
        """A fresh bearer for the account (jwt-bearer grant on the real Authorization API)."""
        response = httpx.post(
            f"{self.authz_url}/oauth/token",
            content=urlencode(
                {
                    "grant_type": JWT_BEARER,
                    "client_id": ACCOUNT,
                    "assertion": sign(claims(), "ES256", "ec-p256"),
                }
            ),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        expect_ok(response)
        return str(response.json()["access_token"])


def _small_tokens(count: int) -> list[str]:
    """``count`` distinct valid ES256 secure tokens that ``transit/encrypt`` with RSA-2048
    can still take (no ``typ``, no ``iat``: under 190 bytes)."""
    tokens = sign_many(count, {"sub": "p{n}", "campaignId": "1"})
    longest = max(len(t) for t in tokens)
    if longest > TRANSIT_RSA_2048_MAX:
        sys.exit(f"a benchmark token is {longest} bytes, over {TRANSIT_RSA_2048_MAX}")
    return tokens


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once waited for
    return usage.ru_utime + usage.ru_stime


def _load(
    url: str, bodies: Path, pids: list[int], seconds: float, connections: int, **headers: str
) -> Run:
    """One wrk run (a body of ``bodies`` per request), with the CPU the ``pids`` and wrk
    used during it."""
    before = [cpu_seconds(pid) for pid in pids]
    wrk_before, busy_before, start = _children_cpu(), busy_seconds(), time.monotonic()
    result = run_wrk_bodies(
        url, bodies, JSON, seconds=seconds, connections=connections, headers=headers
    )
    wall = time.monotonic() - start
    cores = tuple((cpu_seconds(pid) - b) / wall for pid, b in zip(pids, before, strict=True))
    wrk_cores = (_children_cpu() - wrk_before) / wall
    busy = (busy_seconds() - busy_before) / wall
    return Run(
        wrk=result,
        cores=cores,
        wrk_cores=wrk_cores,
        other_cores=max(0.0, busy - sum(cores) - wrk_cores),
    )


class Target:
    """One endpoint under load: ours (single or batch) or OpenBao's transit/encrypt, with
    bodies of distinct tokens (:meth:`prepare`)."""

    def __init__(self, stack: Stack, kind: str, batch_size: int, workdir: Path) -> None:
        self.stack, self.kind, self.batch_size = stack, kind, batch_size
        self.items = batch_size if kind == "batch" else 1
        self.bodies = workdir / f"bodies-{kind}.txt"
        self.body_count = 0

    def prepare(self, tokens: list[str]) -> None:
        """One body per token (single, OpenBao), or per ``batch_size`` tokens (batch)."""
        if self.kind == "openbao":
            lines = [
                json.dumps({"plaintext": base64.b64encode(t.encode()).decode()}) for t in tokens
            ]
        elif self.kind == "single":
            lines = [json.dumps({"token": t}) for t in tokens]
        else:
            size = self.batch_size
            lines = [
                json.dumps({"tokens": tokens[i : i + size]})
                for i in range(0, len(tokens) - size + 1, size)
            ]
        write_lines(self.bodies, lines)
        self.body_count = len(lines)

    def url(self) -> str:
        if self.kind == "openbao":
            return f"{self.stack.bao.addr}/v1/transit/encrypt/{TRANSIT_KEY}"
        path = "/v1/encrypt" if self.kind == "single" else "/v1/encrypt/batch"
        return self.stack.crypto_url + path

    def pids(self) -> list[int]:
        return self.stack.bao_pids() if self.kind == "openbao" else self.stack.crypto_pids()

    def headers(self) -> dict[str, str]:
        if self.kind == "openbao":
            return {"X-Vault-Token": self.stack.bao.token}
        return {"Authorization": f"Bearer {self.stack.bearer()}"}

    def warm(self, connections: int) -> Run:
        """One call by hand (a 200; for a batch, every item sealed), then 1 s of load so
        that every worker has its caches and connections; that second's run."""
        body = self.bodies.read_text().split("\n", 1)[0]
        response = httpx.post(self.url(), content=body, headers=self.headers(), timeout=60)
        expect_ok(response)
        if self.kind == "batch" and response.json()["succeeded"] != self.items:
            sys.exit(f"batch items failed: {response.text[:500]}")
        return self.load(1, connections)

    def load(self, seconds: float, connections: int) -> Run:
        pids = self.pids()
        run = _load(self.url(), self.bodies, pids, seconds, connections, **self.headers())
        if self.kind != "openbao":
            self.stack.served += run.wrk.requests
        if run.wrk.requests > self.body_count:
            print(
                f"note: {self.kind}: {run.wrk.requests} requests for {self.body_count} "
                "distinct bodies: some repeated",
                flush=True,
            )
        _wait_idle(pids)
        return run


def _wait_idle(pids: list[int], timeout: float = 10.0) -> None:
    """Wait until the server has finished the requests wrk left in flight (a batch takes
    a while), so that they do not count against the next measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(0.2)
        if sum(cpu_seconds(pid) for pid in pids) - before < 0.02:
            return


#: What the in-process limit measures, per token: joserfc alone (the same JWE: the account's
#: public key, RSA-OAEP-256 + A256GCM; then also verifying the ES256 JWS first, which is
#: what the API must do), and our own EncryptService.encrypt (library + service, no HTTP).
LIMITS = {
    "seal": "joserfc seal only",
    "verify_seal": "joserfc verify ES256 + seal",
    "service": "EncryptService.encrypt (ours)",
}


def _limit_share(job: tuple[str, str, str, str, list[str], float]) -> tuple[int, float]:
    """In a worker process: run one :data:`LIMITS` variant over ``tokens`` for ``seconds``;
    (tokens done, elapsed)."""
    variant, addr, root, authz_url, tokens, seconds = job
    vault = Vault(Settings(vault_addr=addr, vault_token=root))
    public = KeyStore(vault).get(ACCOUNT).latest
    rsa = public.jwk()  # imported once: the library's own cost, nothing else
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": public.kid, "cty": "JWT"}
    signer = ECKey.import_key(pem("ec-p256"))
    settings = Settings(vault_addr=addr, vault_token=root, authz_issuer=authz_url)
    service = EncryptService(
        Verifier(vault, settings=settings),
        KeyStore(vault),
        settings,
        # Never asked here: the bearer is checked per HTTP request, not per token.
        bearers=BearerChecker(
            f"{authz_url}/.well-known/jwks.json",
            issuer=authz_url,
            audience=settings.crypto_audience,
        ),
        limiter=RateLimiter(0, 1),
    )

    def seal(token: str) -> object:
        return jwe.encrypt_compact(header, token.encode(), rsa, algorithms=SEAL_ALGORITHMS)

    def verify_seal(token: str) -> object:
        json.loads(jws.deserialize_compact(token, signer, algorithms=["ES256"]).payload)
        return seal(token)

    run: Callable[[str], object] = {
        "seal": seal,
        "verify_seal": verify_seal,
        "service": lambda token: service.encrypt(ACCOUNT, token),
    }[variant]
    run(tokens[0])  # caches warm
    done, start = 0, time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        run(tokens[done % len(tokens)])
        done += 1
    return done, time.perf_counter() - start


def _in_process(
    stack: Stack, tokens: list[str], processes: int, seconds: float
) -> dict[str, float]:
    """Tokens per second of each :data:`LIMITS` variant over ``processes`` processes (the
    API's workers' count: the same cores), each its own slice of ``tokens``."""
    rates: dict[str, float] = {}
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for variant in LIMITS:
            jobs = [
                (
                    variant,
                    stack.bao.addr,
                    stack.bao.token,
                    stack.authz_url,
                    tokens[i::processes],
                    seconds,
                )
                for i in range(processes)
            ]
            rates[variant] = sum(done / elapsed for done, elapsed in pool.map(_limit_share, jobs))
    return rates


def _rss(pids: list[int]) -> dict[int, float]:
    return {pid: rss_mb(pid) for pid in pids}


def _memory_run(single: Target, total: int, connections: int, rate: float) -> list[Run]:
    """Send ``total`` single-token requests in wrk runs of at most a minute, each sized by
    the last ``rate``."""
    runs: list[Run] = []
    while sum(r.wrk.requests for r in runs) < total:
        left = total - sum(r.wrk.requests for r in runs)
        runs.append(single.load(min(60.0, max(1.0, left / rate)), connections))
        rate = max(runs[-1].wrk.rps, 1.0)
    return runs


@dataclass
class Results:
    """What one run measured."""

    token_bytes: int = 0
    runs: dict[str, list[Run]] = field(default_factory=dict)
    #: Tokens per second in-process on the API's cores, per :data:`LIMITS` variant, per round.
    limits: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, dict[int, float]] = field(default_factory=dict)
    served_loaded: int = 0
    memory: list[Run] = field(default_factory=list)
    memory_seconds: float = 0.0
    sweep: dict[int, Run] = field(default_factory=dict)


def _measure(args: argparse.Namespace, stack: Stack, results: Results, workdir: Path) -> None:
    targets = {
        kind: Target(stack, kind, args.batch_size, workdir)
        for kind in ("openbao", "single", "batch")
    }
    single = targets["single"]
    print("signing tokens for the warm-up ...", flush=True)
    probe = _small_tokens(max(20_000, args.batch_size * 4))
    results.token_bytes = max(len(t) for t in probe)
    estimates: dict[str, float] = {}
    for kind, target in targets.items():
        target.prepare(probe)
        estimates[kind] = target.warm(args.connections).wrk.rps * target.items
    # Enough distinct tokens for a round of each at 1.5 x its warm-up rate; every round
    # sends the same ones again (neither side keeps anything per token).
    for kind, target in targets.items():
        count = int(max(estimates[kind], 100) * 1.5 * args.seconds) + target.items
        print(f"signing {count:,} distinct tokens for {kind} ...", flush=True)
        target.prepare(_small_tokens(count))
    results.rss["warmed"] = _rss(single.pids())
    results.runs = {kind: [] for kind in targets}
    for _ in range(args.rounds):
        for kind, target in targets.items():
            results.runs[kind].append(target.load(args.seconds, args.connections))
        rates = _in_process(stack, probe, args.workers, max(1.0, args.seconds / 5))
        for variant, rate in rates.items():
            results.limits.setdefault(variant, []).append(rate)

    results.rss["loaded"], results.served_loaded = _rss(single.pids()), stack.served
    started = time.monotonic()
    results.memory = _memory_run(
        single, args.rss_requests, args.connections, _med(results.runs["single"], "rps")
    )
    results.memory_seconds = time.monotonic() - started
    results.rss["end"] = _rss(single.pids())

    for workers in (1, 2, 3):
        stack.start_crypto(workers)
        single.warm(args.connections)
        results.sweep[workers] = single.load(_sweep_seconds(args), args.connections)


def _sweep_seconds(args: argparse.Namespace) -> float:
    return float(max(2.0, args.seconds / 2))


def _med(runs: list[Run], key: str) -> float:
    return float(statistics.median(getattr(r.wrk, key) for r in runs))


_HEAD = (
    f"{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>9}{'cores':>8}{'wrk':>6}{'other':>7}"
    "  cores per process, each round"
)


def _row(label: str, runs: list[Run], scale: int = 1) -> str:
    return (
        f"{label:<40}{_med(runs, 'rps') * scale:>10.0f}{_med(runs, 'p50'):>9.1f}"
        f"{_med(runs, 'p99'):>9.1f}{sum(r.wrk.non2xx + r.wrk.socket_errors for r in runs):>9}"
        f"{statistics.median(r.server_cores for r in runs):>8.2f}"
        f"{statistics.median(r.wrk_cores for r in runs):>6.2f}"
        f"{statistics.median(r.other_cores for r in runs):>7.2f}  "
        + " / ".join("+".join(f"{c:.2f}" for c in r.cores) for r in runs)
    )


def _met(value: float, target: float) -> str:
    return f"target >= {target:.2f}: {'met' if value >= target else 'NOT met'}"


def _report_single(args: argparse.Namespace, results: Results) -> None:
    size, cores = results.token_bytes, len(os.sched_getaffinity(0))
    print(
        f"{cores} cores. Crypto API: tokenctl serve crypto, {args.workers} uvicorn "
        f"workers; OpenBao: one bao process, Transit key {TRANSIT_KEY} (rsa-2048); wrk -t2 "
        f"-c{args.connections} on the same cores. {args.rounds} round(s) x {args.seconds:g}s, "
        "medians."
    )
    print(
        f"Tokens: distinct ES256 JWSs of at most {size} bytes, a new one per request (the set "
        "repeats only across rounds); transit/encrypt gets the same bytes "
        f"(it takes at most {TRANSIT_RSA_2048_MAX} with RSA-2048)."
    )
    print(
        "'cores': CPU seconds of the server's processes per wall second; 'wrk': of wrk; "
        "'other': of everything else on the machine (near 0 unless something else runs).\n"
    )
    runs = results.runs
    print(f"{'Single token':<40}{_HEAD}")
    print(_row("POST /v1/encrypt (ours)", runs["single"]))
    print(_row("OpenBao transit/encrypt (rsa-2048)", runs["openbao"]))
    ratio = _med(runs["single"], "rps") / _med(runs["openbao"], "rps")
    p99 = _med(runs["single"], "p99")
    print(
        f"ratio ours / OpenBao: throughput {ratio:.2f} ({_met(ratio, 1.0)}), "
        f"p50 {_med(runs['single'], 'p50') / _med(runs['openbao'], 'p50'):.2f}, "
        f"p99 {p99 / _med(runs['openbao'], 'p99'):.2f}; "
        f"our p99 {p99:.1f} ms (target <= 25 ms: {'met' if p99 <= 25 else 'NOT met'})\n"
    )


def _report_batch(args: argparse.Namespace, results: Results) -> None:
    runs = results.runs["batch"]
    batch = _med(runs, "rps") * args.batch_size
    cores = statistics.median(r.server_cores for r in runs)
    print(f"{f'Batch ({args.batch_size} tokens per request)':<40}{_HEAD.replace('req', 'tok')}")
    print(_row("POST /v1/encrypt/batch (ours)", runs, args.batch_size))
    print(
        f"{f'In-process, {args.workers} processes':<40}{'tok/s':>10}{'batch/it':>10}"
        f"{'per core':>10}"
    )
    limits = {variant: statistics.median(rates) for variant, rates in results.limits.items()}
    for variant, limit in limits.items():
        per_core = batch / cores / (limit / args.workers)
        print(f"  {LIMITS[variant]:<38}{limit:>10.0f}{batch / limit:>10.2f}{per_core:>10.2f}")
    ratio = batch / limits["verify_seal"]
    print(
        f"batch / in-process verify + seal on the same cores: {ratio:.2f} ({_met(ratio, 0.80)}). "
        f"The API used {cores:.2f} cores, the in-process limit {args.workers} (one process "
        "per worker); 'per core' divides each side by the cores it used.\n"
    )


def _report_memory(results: Results) -> None:
    memory, rss = results.memory, results.rss
    sent = sum(r.wrk.requests for r in memory)
    if memory:
        print(f"{f'Memory run ({len(memory)} wrk run(s), medians)':<40}{_HEAD}")
        print(_row("POST /v1/encrypt (ours)", memory))
    print(f"{'RSS per worker, MB':<22}{'pid':>8}{'warmed':>9}{'loaded':>9}{'+memory run':>13}")
    for pid, end in rss["end"].items():
        print(
            f"{'':<22}{pid:>8}{rss['warmed'].get(pid, 0.0):>9.1f}"
            f"{rss['loaded'].get(pid, 0.0):>9.1f}{end:>13.1f}"
        )
    total = results.served_loaded + sent
    rate = sent / results.memory_seconds if sent else _med(results.runs["single"], "rps")
    verdict = "met" if max(rss["end"].values()) < 150 else "NOT met"
    failed = sum(r.wrk.non2xx + r.wrk.socket_errors for r in memory)
    print(
        f"'loaded': after {results.served_loaded} requests (single and batch). Memory run: "
        f"{sent} single-token requests in {results.memory_seconds:.0f}s ({failed} errors); "
        f"{total} requests in all, ~{total // len(rss['end'])} per worker. Target < 150 MB "
        f"after 1,000,000 requests: {verdict} after {total}; --rss-requests 1000000 takes "
        f"~{1_000_000 / rate / 60:.0f} min at {rate:.0f} req/s.\n"
    )


def _report_sweep(args: argparse.Namespace, results: Results) -> None:
    print(f"{f'Worker count (single token, 1 x {_sweep_seconds(args):g}s)':<40}{_HEAD}")
    for workers, run in results.sweep.items():
        print(_row(f"tokenctl serve crypto --workers {workers}", [run]))


def main() -> None:
    """Run every measurement, then print the tables and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per load round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the API")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--rss-requests", type=int, default=200_000, help="1000000 checks the RSS target"
    )
    args = parser.parse_args()
    stack, results = Stack(), Results()
    with tempfile.TemporaryDirectory() as workdir:
        try:
            stack.start(args.workers)
            _measure(args, stack, results, Path(workdir))
        finally:
            stack.close()
    _report_single(args, results)
    _report_batch(args, results)
    _report_memory(results)
    _report_sweep(args, results)


if __name__ == "__main__":
    main()
