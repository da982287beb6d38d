"""Verifier and sealing speed, against OpenBao's own Transit decrypt in the same run.

    .venv/bin/python -m benchmarks.verify [--seconds 2] [--repeats 5]

Starts its own `bao server -dev` on a free loopback port. Prints medians over repeats (this
machine is small and noisy: compare ratios, not absolute numbers):

- JWS ES256 / HS256 verify with a cached account (no Vault call on the path);
- seal (local RSA-OAEP-256 + A256GCM with the cached public key);
- JWE verify (one `transit/decrypt` per token) vs a bare `transit/decrypt` of the same
  wrapped key through hvac: the ratio is our overhead over Vault's own work;
- the same two under 4 client threads (throughput).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shared import (
    Account,
    AccountStore,
    KeyStore,
    PublicKeyValidation,
    Sealer,
    Settings,
    SymmetricValidation,
    Vault,
    Verifier,
)
from shared.ops.bootstrap import bootstrap
from tests.support.openbao import DevServer
from tests.support.tokens import claims, pem, sign


def _rate(fn: Callable[[], object], seconds: float, threads: int = 1) -> float:
    """Calls per second of ``fn`` over ``seconds`` with ``threads`` callers."""

    def loop() -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            fn()
            n += 1
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: loop(), range(threads)))
    return total / (time.perf_counter() - start)


def _median_rate(fn: Callable[[], object], seconds: float, repeats: int, threads: int = 1) -> float:
    fn()  # warm caches
    return statistics.median(_rate(fn, seconds, threads) for _ in range(repeats))


def main() -> None:
    """Run the benchmark and print a table with ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    server = DevServer().start()
    try:
        vault = Vault(Settings(vault_addr=server.addr, vault_token=server.token))
        bootstrap(vault)
        store, keys = AccountStore(vault), KeyStore(vault)
        secret = b"s" * 64
        store.create(
            Account(
                id="bench-ec",
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        store.create(
            Account(
                id="bench-hs", validation=SymmetricValidation(algorithms=("HS256",), secret=secret)
            )
        )
        verifier = Verifier(vault)
        sealer = Sealer(keys, vault.settings)
        es = sign(claims(), "ES256", "ec-p256")
        hs = sign(claims(), "HS256", secret)
        jwe = sealer.seal("bench-ec", es)
        wrapped = base64.urlsafe_b64decode(jwe.split(".")[1] + "==")

        def bare_decrypt() -> None:
            vault.transit_decrypt("account-bench-ec", 1, wrapped)

        s, r = args.seconds, args.repeats
        rows = {
            "verify JWS ES256 (cached account)": _median_rate(
                lambda: verifier.verify(es, account_id="bench-ec", campaign_id="1001"), s, r
            ),
            "verify JWS HS256 (cached account)": _median_rate(
                lambda: verifier.verify(hs, account_id="bench-hs", campaign_id="1001"), s, r
            ),
            "seal JWS -> JWE (cached key)": _median_rate(lambda: sealer.seal("bench-ec", es), s, r),
            "OpenBao transit/decrypt, bare (1 thread)": _median_rate(bare_decrypt, s, r),
            "verify JWE (1 thread)": _median_rate(
                lambda: verifier.verify(jwe, account_id="bench-ec", campaign_id="1001"), s, r
            ),
            "OpenBao transit/decrypt, bare (4 threads)": _median_rate(bare_decrypt, s, r, 4),
            "verify JWE (4 threads)": _median_rate(
                lambda: verifier.verify(jwe, account_id="bench-ec", campaign_id="1001"), s, r, 4
            ),
        }
    finally:
        server.stop()

    print(f"{'operation':<45} {'ops/s':>10} {'median µs':>10}")
    for name, rate in rows.items():
        print(f"{name:<45} {rate:>10.0f} {1e6 / rate:>10.1f}")
    for threads in (1, 4):
        bare = rows[f"OpenBao transit/decrypt, bare ({threads} thread{'s' if threads > 1 else ''})"]
        ours = rows[f"verify JWE ({threads} thread{'s' if threads > 1 else ''})"]
        print(f"ratio verify JWE / bare transit decrypt, {threads} thread(s): {ours / bare:.2f}")


if __name__ == "__main__":
    main()
