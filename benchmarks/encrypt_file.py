"""``tokenctl encrypt-file`` with every default, against ``tokenctl up``'s stack.

    .venv/bin/python -m benchmarks.encrypt_file [--rows 20000] [--runs 3] [--tokens]
                                                [--set NAME=VALUE]

What a new user gets: ``tokenctl up`` (its defaults: one worker per API, the default rate
limits, nothing set on the demo account) in a fresh data directory on free ports, then
``tokenctl encrypt-file IN OUT --account demo --key demo-private.pem --alg ES256`` over
``--rows`` rows of claims (signed by encrypt-file, as a campaign's export would be), or
with ``--tokens`` of tokens signed beforehand. Prints each run's rows/s (encrypt-file's own
summary: rows written over the run's wall time) and the median. Not a test: the figure goes
in the README beside what it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from joserfc.jwk import ECKey

from benchmarks._serve import wait_ready
from shared.ops.devstack import DEMO_ACCOUNT
from tests.support.openbao import free_port, vault_port_pair
from tests.support.tokens import claims, sign


def _tokenctl() -> str:
    return str(Path(sys.executable).parent / "tokenctl")


def _start_stack(
    data: Path, settings: dict[str, str]
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """``tokenctl up`` on free ports, with ``settings`` on top of a clean environment;
    returns it and the environment its ``env`` file sets."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VAULT_", "AUTHZ_", "CRYPTO_", "REDIS_", "PROMETHEUS_"))
    }
    crypto = free_port()
    argv = [_tokenctl(), "up", "--data-dir", str(data), "--vault-port", str(vault_port_pair())]
    argv += ["--authz-port", str(free_port()), "--crypto-port", str(crypto)]
    log = (data.parent / "up.log").open("wb")
    stack = subprocess.Popen(argv, env={**base, **settings}, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{crypto}/health/ready", stack)
    env_file = data / "env"
    deadline = time.monotonic() + 30
    while not env_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    env = dict(base)
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name == "VAULT_TOKEN":
            env[name] = (data / "root-token").read_text().strip()
        elif name != "PATH":
            env[name] = value
    return stack, env


def _input(folder: Path, rows: int, key: Path, *, tokens: bool) -> Path:
    source = folder / "campaign.jsonl"
    signing_key = ECKey.import_key(key.read_bytes())
    with source.open("w") as file:
        for i in range(rows):
            row = claims(sub=f"participant-{i}", exp=int(time.time()) + 86400)
            if tokens:
                file.write(json.dumps({"token": sign(row, "ES256", signing_key)}) + "\n")
            else:
                file.write(json.dumps(row) + "\n")
    return source


def main() -> None:
    """Run encrypt-file ``--runs`` times over the same input; print rows/s and the median."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", action="store_true", help="rows hold tokens signed before")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the stack's services (e.g. CRYPTO_BATCH_RATE_LIMIT_PER_SECOND=0 "
        "to see whether the limit binds); none by default",
    )
    args = parser.parse_args()
    settings = dict(item.partition("=")[::2] for item in args.set)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stack, env = _start_stack(folder / "data", settings)
        try:
            key = folder / "data" / "demo-es256-private.pem"
            source = _input(folder, args.rows, key, tokens=args.tokens)
            rates = []
            for run in range(args.runs):
                out = folder / f"out-{run}.jsonl"
                argv = [_tokenctl(), "encrypt-file", str(source), str(out)]
                argv += ["--account", DEMO_ACCOUNT, "--no-progress", "--json"]
                if not args.tokens:
                    argv += ["--key", str(key), "--alg", "ES256"]
                done = subprocess.run(argv, env=env, capture_output=True, check=False)
                summary = json.loads(done.stdout)
                if done.returncode != 0 or summary["encrypted"] != args.rows:
                    sys.exit(f"run {run}: exit {done.returncode}: {done.stdout[:500]!r}")
                rates.append(summary["rows_per_second"])
                print(f"run {run + 1}: {summary['rows_per_second']:,.0f} rows/s", flush=True)
            print(f"median over {args.runs} runs of {args.rows:,} rows: "
                  f"{statistics.median(rates):,.0f} rows/s")  # fmt: skip
        finally:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(30)
            except subprocess.TimeoutExpired:
                stack.kill()


if __name__ == "__main__":
    main()
