"""Soak: a bounded run of mixed traffic against both APIs, reporting throughput, latency and
memory over time. Not part of CI (the default run lasts an hour).

    .venv/bin/python -m benchmarks.soak [--minutes 60] [--sample 10] [--clients 6]
        [--workers 2] [--max-growth 10]

Everything on 127.0.0.1: an OpenBao dev server, Redis (the authz replay store), a
customer's JWKS endpoint (a local HTTP server), and both APIs as production runs them
(``tokenctl serve --workers N``, each logged in with its AppRole, whose 1 h token is
renewed by a new login during an hour-long run). ``--clients`` threads send, round-robin:
token exchanges (jwt-bearer for a public-key account and for a JWKS account, client
credentials with a fresh assertion), single encrypts for both accounts, batches of 20,
account and authz JWKS reads, and refused requests (a bad signature, a garbage bearer, an
expired token, a replayed assertion). Bearers are renewed every 2 minutes.

Every ``--sample`` seconds a line: requests/s, p50/p99 (ms), answers other than the
expected ones, and the RSS (MB) of every API worker. At the end, PASS/FAIL for:
- "no 5xx except 503": every answer is the expected one, or 503 with Retry-After, and
  none is missing (no transport error);
- "memory flat": no API worker's RSS grew more than ``--max-growth`` % over the second half
  of the run (from the sample at half time to the last), and no worker was replaced.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks._serve import rss_mb, serve, stop, wait_ready, worker_pids
from shared import Account, AccountStore, JwksValidation, PublicKeyValidation, Settings, Vault
from shared.ops.bootstrap import bootstrap
from shared.wire import CLIENT_ASSERTION_TYPE, JWT_BEARER
from tests.support.jwks_server import JwksServer
from tests.support.openbao import DevServer, free_port
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, pem, private_key, sign

#: What each kind of request must be answered (503 + Retry-After is always acceptable).
EXPECTED = {
    "token": 200,
    "token-jwks": 200,
    "client-credentials": 200,
    "encrypt": 200,
    "encrypt-jwks": 200,
    "batch": 200,
    "account-jwks": 200,
    "authz-jwks": 200,
    "bad-signature": 422,
    "bad-bearer": 401,
    "expired": 400,
    "replayed": 401,
}
BEARER_REFRESH = 120.0


@dataclass
class Sample:
    """What happened during one sampling interval."""

    at: float
    calls: int
    p50: float
    p99: float
    unexpected: dict[str, int]
    rss: dict[str, float]


@dataclass
class Recorder:
    """Calls since the last sample (kind, status, seconds, retry-after ok); thread-safe."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[tuple[str, int, float, bool]] = field(default_factory=list)

    def add(self, kind: str, status: int, seconds: float, retry_after: bool) -> None:
        with self.lock:
            self.calls.append((kind, status, seconds, retry_after))

    def take(self) -> list[tuple[str, int, float, bool]]:
        with self.lock:
            taken, self.calls = self.calls, []
        return taken


class Stack:
    """Everything the soak starts; :meth:`close` stops it."""

    def __init__(self, workers: int) -> None:
        self.bao = DevServer().start()
        self.redis = RedisServer().start()
        self.jwks = JwksServer().start()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.directory = Path(tempfile.mkdtemp(prefix="soak-"))
        admin = Vault(Settings(vault_addr=self.bao.addr, vault_token=self.bao.token))
        bootstrap(admin, approle_dir=self.directory)
        store = AccountStore(admin)
        suffix = uuid.uuid4().hex[:6]
        self.account = store.create(
            Account(
                id=f"soak-{suffix}",
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        ).id
        rsa = private_key("rsa-2048").as_dict(private=False)
        self.jwks.document = {"keys": [{**rsa, "kid": "soak-1", "use": "sig"}]}
        self.jwks_account = store.create(
            Account(
                id=f"soak-jwks-{suffix}",
                validation=JwksValidation(algorithms=("RS256",), jwks_uri=self.jwks.url),
            )
        ).id
        authz_port, crypto_port = free_port(), free_port()
        self.authz_url = f"http://127.0.0.1:{authz_port}"
        self.crypto_url = f"http://127.0.0.1:{crypto_port}"
        base = {"VAULT_ADDR": self.bao.addr, "AUTHZ_ISSUER": self.authz_url}
        self.processes["authz"] = serve(
            "authz",
            authz_port,
            workers,
            {
                **base,
                **self._approle("authz-api"),
                "REDIS_URL": self.redis.url,
                "AUTHZ_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_JWT_BEARER_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND": "0",
            },
        )
        self.processes["crypto"] = serve(
            "crypto",
            crypto_port,
            workers,
            {
                **base,
                **self._approle("crypto-api"),
                "AUTHZ_JWKS_URL": f"{self.authz_url}/.well-known/jwks.json",
                "CRYPTO_RATE_LIMIT_PER_SECOND": "0",
                "CRYPTO_BATCH_RATE_LIMIT_PER_SECOND": "0",
                "CRYPTO_JWKS_RATE_LIMIT_PER_SECOND": "0",
            },
        )
        wait_ready(f"{self.authz_url}/health/ready", self.processes["authz"])
        wait_ready(f"{self.crypto_url}/health/ready", self.processes["crypto"])

    def _approle(self, role: str) -> dict[str, str]:
        return {
            "VAULT_ROLE_ID_FILE": str(self.directory / f"{role}.role-id"),
            "VAULT_SECRET_ID_FILE": str(self.directory / f"{role}.secret-id"),
        }

    def workers(self) -> dict[str, int]:
        """Every API worker: ``authz/<pid>`` and ``crypto/<pid>`` -> pid."""
        return {
            f"{name}/{pid}": pid
            for name, process in self.processes.items()
            for pid in worker_pids(process)
        }

    def close(self) -> None:
        for process in self.processes.values():
            stop(process)
        self.jwks.stop()
        self.redis.stop()
        self.bao.stop()


class Traffic:
    """The requests of the mix, with bearers renewed in the background."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._bearers: dict[str, str] = {}
        self._renewed = 0.0
        self._lock = threading.Lock()
        self.used_assertion = self._assertion()
        with httpx.Client(timeout=30) as http:
            if self._client_credentials(http, self.used_assertion).status_code != 200:
                sys.exit("set-up failed: the first client assertion was refused")

    def bearer(self, account: str) -> str:
        with self._lock:
            if time.monotonic() - self._renewed > BEARER_REFRESH:
                for acct, token in (
                    (self.stack.account, sign(claims(), "ES256", "ec-p256")),
                    (self.stack.jwks_account, sign(claims(), "RS256", "rsa-2048", kid="soak-1")),
                ):
                    answer = httpx.post(
                        f"{self.stack.authz_url}/oauth/token",
                        data={"grant_type": JWT_BEARER, "client_id": acct, "assertion": token},
                        timeout=30,
                    )
                    if answer.status_code == 200:
                        self._bearers[acct] = answer.json()["access_token"]
                self._renewed = time.monotonic()
            return self._bearers.get(account, "none")

    def _assertion(self) -> str:
        now = int(time.time())
        acct = self.stack.account
        return sign(
            {
                "iss": acct,
                "sub": acct,
                "aud": f"{self.stack.authz_url}/oauth/token",
                "iat": now,
                "exp": now + 60,
                "jti": uuid.uuid4().hex,
            },
            "ES256",
            "ec-p256",
        )

    def _client_credentials(self, http: httpx.Client, assertion: str) -> httpx.Response:
        return http.post(
            f"{self.stack.authz_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )

    def _exchange(self, http: httpx.Client, account: str, token: str) -> httpx.Response:
        return http.post(
            f"{self.stack.authz_url}/oauth/token",
            data={"grant_type": JWT_BEARER, "client_id": account, "assertion": token},
        )

    def _encrypt(self, http: httpx.Client, account: str, token: str) -> httpx.Response:
        return http.post(
            f"{self.stack.crypto_url}/v1/encrypt",
            json={"token": token},
            headers={"Authorization": f"Bearer {self.bearer(account)}"},
        )

    def mix(self) -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
        s = self.stack
        es = s.account
        rs = s.jwks_account
        crypto = s.crypto_url

        # Signed once (the client's CPU is the servers' too): distinct participants, valid
        # for a day, picked at random.
        day = int(time.time()) + 86_400
        es_pool = [sign(claims(sub=f"p-{n}", exp=day), "ES256", "ec-p256") for n in range(200)]
        rs_pool = [
            sign(claims(sub=f"p-{n}", exp=day), "RS256", "rsa-2048", kid="soak-1")
            for n in range(200)
        ]

        def es_token() -> str:
            return random.choice(es_pool)  # noqa: S311 - which test token, not a secret

        def rs_token() -> str:
            return random.choice(rs_pool)  # noqa: S311

        expired = sign(
            claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), "ES256", "ec-p256"
        )
        forged = sign(claims(), "ES256", "ec-p256-other")
        return [
            ("token", lambda h: self._exchange(h, es, es_token())),
            ("encrypt", lambda h: self._encrypt(h, es, es_token())),
            ("client-credentials", lambda h: self._client_credentials(h, self._assertion())),
            ("encrypt", lambda h: self._encrypt(h, es, es_token())),
            (
                "batch",
                lambda h: h.post(
                    f"{crypto}/v1/encrypt/batch",
                    json={"tokens": [es_token()] * 20},
                    headers={"Authorization": f"Bearer {self.bearer(es)}"},
                ),
            ),
            ("token-jwks", lambda h: self._exchange(h, rs, rs_token())),
            ("encrypt-jwks", lambda h: self._encrypt(h, rs, rs_token())),
            ("account-jwks", lambda h: h.get(f"{crypto}/v1/accounts/{es}/jwks.json")),
            ("encrypt", lambda h: self._encrypt(h, es, es_token())),
            ("authz-jwks", lambda h: h.get(f"{s.authz_url}/.well-known/jwks.json")),
            ("bad-signature", lambda h: self._encrypt(h, es, forged)),
            (
                "bad-bearer",
                lambda h: h.post(
                    f"{crypto}/v1/encrypt",
                    json={"token": forged},
                    headers={"Authorization": "Bearer not.a.bearer"},
                ),
            ),
            ("expired", lambda h: self._exchange(h, es, expired)),
            ("replayed", lambda h: self._client_credentials(h, self.used_assertion)),
        ]


def client(
    mix: list[tuple[str, Callable[[httpx.Client], httpx.Response]]],
    start: int,
    recorder: Recorder,
    stop_at: float,
    stopping: threading.Event,
) -> None:
    with httpx.Client(timeout=30) as http:
        turn = start
        while not stopping.is_set() and time.monotonic() < stop_at:
            kind, send = mix[turn % len(mix)]
            turn += 1
            sent = time.monotonic()
            try:
                response = send(http)
            except httpx.HTTPError:
                recorder.add(kind, 0, time.monotonic() - sent, False)
                continue
            retry_after = response.headers.get("retry-after", "").isdigit()
            recorder.add(kind, response.status_code, time.monotonic() - sent, retry_after)


def summarize(
    calls: list[tuple[str, int, float, bool]], at: float, rss: dict[str, float]
) -> Sample:
    unexpected: dict[str, int] = {}
    for kind, status, _, retry_after in calls:
        if status == EXPECTED[kind] or (status == 503 and retry_after):
            continue
        key = f"{kind}:{status}"
        unexpected[key] = unexpected.get(key, 0) + 1
    durations = [seconds * 1000 for _, _, seconds, _ in calls]
    if len(durations) >= 2:
        cuts = statistics.quantiles(durations, n=100, method="inclusive")
        p50, p99 = cuts[49], cuts[98]
    else:
        p50 = p99 = durations[0] if durations else 0.0
    return Sample(at=at, calls=len(calls), p50=p50, p99=p99, unexpected=unexpected, rss=rss)


def main() -> None:
    """Run the soak and print the samples and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-growth", type=float, default=10.0, help="percent")
    args = parser.parse_args()

    stack = Stack(args.workers)
    try:
        result = run(stack, args)
    finally:
        stack.close()
    sys.exit(0 if report(result, max_growth=args.max_growth) else 1)


@dataclass
class Result:
    """Everything a run measured."""

    samples: list[Sample] = field(default_factory=list)
    #: Seconds each call took, by kind.
    durations: dict[str, list[float]] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    replaced: bool = False


def run(stack: Stack, args: argparse.Namespace) -> Result:
    """Drive the mix for ``--minutes``, sampling every ``--sample`` seconds."""
    result = Result()
    mix = Traffic(stack).mix()
    workers = stack.workers()
    names = sorted(workers)
    print(
        f"soak: {args.minutes:g} min, {args.clients} clients, {args.workers} workers per API; "
        f"samples every {args.sample:g} s\n"
        f"{'time':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'unexp':>5}  "
        + "  ".join(f"{n.replace('/', ':'):>12}" for n in names)
        + "  (RSS MB)",
        flush=True,
    )
    recorder = Recorder()
    stopping = threading.Event()
    started = last = time.monotonic()
    stop_at = started + args.minutes * 60
    threads = [
        threading.Thread(target=client, args=(mix, n * 3, recorder, stop_at, stopping))
        for n in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() < stop_at:
            time.sleep(min(args.sample, max(0.0, stop_at - time.monotonic())))
            now = time.monotonic()
            calls = recorder.take()
            sample = summarize(calls, now - started, _rss(workers))
            result.samples.append(sample)
            for kind, _, seconds, _ in calls:
                result.durations.setdefault(kind, []).append(seconds)
            for key, count in sample.unexpected.items():
                result.unexpected[key] = result.unexpected.get(key, 0) + count
            print(
                f"{sample.at:6.0f}s {sample.calls / (now - last):7.0f} {sample.p50:7.1f} "
                f"{sample.p99:7.1f} {sum(sample.unexpected.values()):5}  "
                + "  ".join(f"{sample.rss[n]:12.1f}" for n in names),
                flush=True,
            )
            last = now
    finally:
        stopping.set()
        for thread in threads:
            thread.join(timeout=40)
    result.replaced = set(workers.values()) != set(stack.workers().values())
    return result


def _rss(workers: dict[str, int]) -> dict[str, float]:
    rss = {}
    for name, pid in workers.items():
        try:
            rss[name] = rss_mb(pid)
        except (FileNotFoundError, ProcessLookupError, RuntimeError):
            rss[name] = float("nan")  # the worker is gone (reported as replaced)
    return rss


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    if len(seconds) < 2:
        return (seconds[0] * 1000,) * 2 if seconds else (0.0, 0.0)
    cuts = statistics.quantiles([s * 1000 for s in seconds], n=100, method="inclusive")
    return cuts[49], cuts[98]


def report(result: Result, *, max_growth: float) -> bool:
    """Print the totals and the verdicts; True when both pass."""
    samples = result.samples
    elapsed = samples[-1].at
    everything = [d for same in result.durations.values() for d in same]
    p50, p99 = _percentiles(everything)
    print(
        f"\n{len(everything)} calls in {elapsed:.0f} s: {len(everything) / elapsed:.0f} req/s, "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    for kind, same in sorted(result.durations.items()):
        k50, k99 = _percentiles(same)
        print(f"  {kind:20} {len(same):8} calls  p50 {k50:7.1f} ms  p99 {k99:7.1f} ms")
    half = min(samples, key=lambda s: abs(s.at - elapsed / 2))
    first, end = samples[0], samples[-1]
    growths = []
    print("RSS MB per worker: first sample -> half time -> end (growth over the second half)")
    for name in sorted(end.rss):
        growth = 100 * (end.rss[name] - half.rss[name]) / half.rss[name]
        growths.append(growth)
        print(
            f"  {name:14} {first.rss[name]:7.1f} -> {half.rss[name]:7.1f} -> "
            f"{end.rss[name]:7.1f}  ({growth:+.1f} %)"
        )
    ok_answers = not result.unexpected
    flat = not result.replaced and all(g < max_growth for g in growths)
    print(
        f"\n{'PASS' if ok_answers else 'FAIL'}: no 5xx except 503 + Retry-After, every answer "
        f"as expected, none missing{'' if ok_answers else f': {result.unexpected}'}"
    )
    print(
        f"{'PASS' if flat else 'FAIL'}: memory flat (each worker grew < {max_growth:g} % "
        f"over the second half{'; a worker was replaced' if result.replaced else ''})"
    )
    return ok_answers and flat


if __name__ == "__main__":
    main()
