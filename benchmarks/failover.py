"""Raft failover under load: kill OpenBao's active node and measure what the clients see.

    .venv/bin/python -m benchmarks.failover [--before 5] [--after 20] [--clients 8]
        [--workers 2] [--recovery-bound 10] [--single-address]

Everything on 127.0.0.1: a three-node OpenBao cluster with integrated Raft storage
(``tests/support/faults/raft.py``: ``retry_join``, one unseal key, every node a voter before the
run), Redis, and both APIs as production runs them (``tokenctl serve --workers N``), each
logged in with its own AppRole and given every node in ``VAULT_ADDR`` (the active node
first, so that its death forces the switch). A threaded client (``--clients`` connections)
exchanges tokens and encrypts (single tokens and batches of 10) for ``--before`` seconds,
then the active node is SIGKILLed and the load goes on for ``--after`` seconds.

Printed: calls by kind and status; how many failed and the window from the kill to the
last failure (the seconds to recover); when a new leader was elected; p50/p99 before,
during the 10 s after the kill, and after; a per-second timeline around the kill. PASS
when every answer is 2xx or 503 with Retry-After, no call went unanswered, and every call
sent ``--recovery-bound`` seconds after the kill succeeded.

``--single-address`` gives the services the active node only (``VAULT_ADDR`` as before
multi-address support): the run then shows what failover costs without it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks._serve import serve, stop, wait_ready
from shared import Account, AccountStore, PublicKeyValidation, Settings, Vault
from shared.ops.bootstrap import bootstrap
from shared.wire import JWT_BEARER
from tests.support.faults.load import Call, Load, check_answers
from tests.support.faults.raft import RaftCluster
from tests.support.openbao import free_port
from tests.support.redis_server import RedisServer
from tests.support.tokens import claims, pem, sign

ACCOUNT = "bench"
#: The window after the kill reported separately ("during").
DURING = 10.0


def percentiles(calls: list[Call]) -> tuple[float, float]:
    """p50 and p99 of the calls' durations, in ms (0 when there are none)."""
    if len(calls) < 2:
        return (calls[0].seconds * 1000, calls[0].seconds * 1000) if calls else (0.0, 0.0)
    cuts = statistics.quantiles([c.seconds * 1000 for c in calls], n=100, method="inclusive")
    return cuts[49], cuts[98]


class Services:
    """Both APIs under ``tokenctl serve`` on the cluster, as their AppRoles."""

    def __init__(self, addrs: str, approle: Path, redis: RedisServer, workers: int) -> None:
        self.authz_url = f"http://127.0.0.1:{free_port()}"
        self.crypto_url = f"http://127.0.0.1:{free_port()}"
        common = {"VAULT_ADDR": addrs, "AUTHZ_ISSUER": self.authz_url}
        self.authz: subprocess.Popen[bytes] | None = serve(
            "authz",
            int(self.authz_url.rsplit(":", 1)[1]),
            workers,
            {
                **common,
                "VAULT_ROLE_ID_FILE": str(approle / "authz-api.role-id"),
                "VAULT_SECRET_ID_FILE": str(approle / "authz-api.secret-id"),
                "REDIS_URL": redis.url,
                "AUTHZ_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_JWT_BEARER_RATE_LIMIT_PER_SECOND": "0",
                "AUTHZ_ASSERTION_RATE_LIMIT_PER_SECOND": "0",
            },
        )
        self.crypto: subprocess.Popen[bytes] | None = serve(
            "crypto",
            int(self.crypto_url.rsplit(":", 1)[1]),
            workers,
            {
                **common,
                "VAULT_ROLE_ID_FILE": str(approle / "crypto-api.role-id"),
                "VAULT_SECRET_ID_FILE": str(approle / "crypto-api.secret-id"),
                "AUTHZ_JWKS_URL": f"{self.authz_url}/.well-known/jwks.json",
                "CRYPTO_RATE_LIMIT_PER_SECOND": "0",
                "CRYPTO_BATCH_RATE_LIMIT_PER_SECOND": "0",
            },
        )
        wait_ready(f"{self.authz_url}/health/ready", self.authz)
        wait_ready(f"{self.crypto_url}/health/ready", self.crypto)

    def requests(self, jws: str) -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
        """Token exchanges, single encrypts and batches of 10, in the proportions 1:2:1."""
        response = httpx.post(
            f"{self.authz_url}/oauth/token",
            data={"grant_type": JWT_BEARER, "client_id": ACCOUNT, "assertion": jws},
            timeout=30,
        )
        if response.status_code != 200:
            sys.exit(f"set-up failed: no bearer: {response.status_code} {response.text}")
        auth = {"Authorization": f"Bearer {response.json()['access_token']}"}

        def token(http: httpx.Client) -> httpx.Response:
            return http.post(
                f"{self.authz_url}/oauth/token",
                data={"grant_type": JWT_BEARER, "client_id": ACCOUNT, "assertion": jws},
            )

        def encrypt(http: httpx.Client) -> httpx.Response:
            return http.post(f"{self.crypto_url}/v1/encrypt", json={"token": jws}, headers=auth)

        def batch(http: httpx.Client) -> httpx.Response:
            return http.post(
                f"{self.crypto_url}/v1/encrypt/batch", json={"tokens": [jws] * 10}, headers=auth
            )

        return [("token", token), ("encrypt", encrypt), ("batch", batch), ("encrypt", encrypt)]

    def close(self) -> None:
        stop(self.crypto)
        stop(self.authz)


def watch_election(cluster: RaftCluster, killed: float, out: dict[str, float]) -> None:
    """Record when another node reports itself active (``sys/health`` 200)."""
    deadline = killed + 60
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if node.running and node.health() == 200:
                out["elected"] = time.monotonic() - killed
                out["node"] = float(cluster.nodes.index(node) + 1)
                return
        time.sleep(0.05)


def report(calls: list[Call], killed: float, election: dict[str, float], bound: float) -> bool:
    """Print the figures; True when the run passes."""
    kinds = sorted({c.kind for c in calls})
    print("\ncalls by kind and status (0 = no answer)")
    for kind in kinds:
        same = [c for c in calls if c.kind == kind]
        statuses: dict[int, int] = {}
        for call in same:
            statuses[call.status] = statuses.get(call.status, 0) + 1
        print(f"  {kind:8} {len(same):6}  {dict(sorted(statuses.items()))}")

    failed = [c for c in calls if not 200 <= c.status < 300]
    print(f"\nnew leader elected {election.get('elected', float('nan')):.2f} s after the kill")
    if failed:
        first = min(c.sent for c in failed) - killed
        last = max(c.received for c in failed) - killed
        still = max(c.sent for c in failed) > max(c.sent for c in calls) - 1.0
        print(
            f"failed: {len(failed)} of {len(calls)} calls "
            f"({100 * len(failed) / len(calls):.2f} %), from +{first:.2f} s to +{last:.2f} s "
            "after the kill: "
            + ("NOT recovered by the end of the run" if still else f"recovered in {last:.2f} s")
        )
        for kind in kinds:
            mine = [c for c in failed if c.kind == kind]
            if mine:
                print(
                    f"  {kind:8} {len(mine):5} failed, last answered "
                    f"+{max(c.received for c in mine) - killed:.2f} s"
                )
    else:
        print(f"failed: 0 of {len(calls)} calls")

    print("\nlatency (all kinds)          calls     p50 ms    p99 ms")
    for label, part in (
        ("before the kill", [c for c in calls if c.sent < killed]),
        (f"first {DURING:.0f} s after", [c for c in calls if killed <= c.sent < killed + DURING]),
        ("after that", [c for c in calls if c.sent >= killed + DURING]),
    ):
        p50, p99 = percentiles(part)
        print(f"  {label:24} {len(part):8} {p50:10.1f} {p99:9.1f}")

    print("\ntimeline (second after the kill: ok / failed / p99 ms)")
    for second in range(-2, int(max(c.sent for c in calls) - killed) + 1):
        part = [c for c in calls if second <= c.sent - killed < second + 1]
        ok = sum(1 for c in part if 200 <= c.status < 300)
        print(f"  {second:+4d}s  {ok:6} / {len(part) - ok:4}   {percentiles(part)[1]:8.1f}")

    bad = check_answers(calls)
    late = [c for c in calls if c.sent >= killed + bound]
    recovered = bool(late) and all(200 <= c.status < 300 for c in late)
    print(
        f"\n{'PASS' if not bad else 'FAIL'}: every answer 2xx or 503 + Retry-After, none missing"
        f" ({len(bad)} not)"
    )
    print(
        f"{'PASS' if recovered else 'FAIL'}: every call sent {bound:.0f} s after the kill "
        f"succeeded ({sum(1 for c in late if not 200 <= c.status < 300)} of {len(late)} not)"
    )
    return not bad and recovered


def main() -> None:
    """Start the cluster and the services, load them, kill the leader, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=5.0, help="seconds of load before")
    parser.add_argument("--after", type=float, default=20.0, help="seconds of load after")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recovery-bound", type=float, default=10.0)
    parser.add_argument("--single-address", action="store_true")
    args = parser.parse_args()

    print("starting a three-node OpenBao cluster (Raft)...", flush=True)
    cluster = RaftCluster(3).start()
    redis = RedisServer().start()
    services: Services | None = None
    try:
        admin = Vault(Settings(vault_addr=cluster.addrs, vault_token=cluster.root_token))
        approle = Path(tempfile.mkdtemp(dir=cluster.directory, prefix="approle-"))
        bootstrap(admin, approle_dir=approle)
        AccountStore(admin).create(
            Account(
                id=ACCOUNT,
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        leader = cluster.leader()
        order = [leader] + [n for n in cluster.nodes if n is not leader]
        addrs = leader.addr if args.single_address else ",".join(n.addr for n in order)
        print(f"active node {leader.node_id}; VAULT_ADDR={addrs}", flush=True)
        services = Services(addrs, approle, redis, args.workers)
        jws = sign(claims(exp=int(time.time()) + 7200), "ES256", "ec-p256")
        election: dict[str, float] = {}
        with Load("", services.requests(jws), clients=args.clients, timeout=30) as load:
            time.sleep(args.before)
            killed = time.monotonic()
            leader.kill()
            print(f"killed {leader.node_id} (SIGKILL) after {args.before:.0f} s", flush=True)
            watcher = threading.Thread(target=watch_election, args=(cluster, killed, election))
            watcher.start()
            time.sleep(args.after)
            calls = load.stop()
            watcher.join()
        passed = report(calls, killed, election, args.recovery_bound)
    finally:
        if services is not None:
            services.close()
        cluster.stop()
        redis.stop()
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
