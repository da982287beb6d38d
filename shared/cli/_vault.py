"""``tokenctl vault init|bootstrap``."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

from shared.cli._context import Context
from shared.ops.bootstrap import bootstrap
from shared.ops.vault_init import init_and_unseal

__all__ = ["register"]


def _bootstrap(ctx: Context, args: argparse.Namespace) -> None:
    report = bootstrap(ctx.vault(), approle_dir=args.approle_dir, approle_cidrs=args.approle_cidr)
    lines = [f"created  {c}" for c in report.created] + [f"present  {p}" for p in report.present]
    ctx.out.result({"created": report.created, "present": report.present}, "\n".join(lines))


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a network such as 10.0.0.0/8: {value!r}") from None


def _init(ctx: Context, args: argparse.Namespace) -> None:
    report = init_and_unseal(ctx.vault(), Path(args.data_dir))
    state = (
        "initialised and unsealed"
        if report.initialized
        else ("unsealed" if report.unsealed else "already unsealed")
    )
    ctx.out.result(
        {
            "initialized": report.initialized,
            "unsealed": report.unsealed,
            "root_token_file": report.root_token_file,
        },
        f"Vault {state}; root token in {report.root_token_file} (dev only)",
    )


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``vault`` and its subcommands."""
    vault = sub.add_parser("vault", help="Vault set-up", parents=[common])
    cmds = vault.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    init = cmds.add_parser(
        "init",
        parents=[common],
        help="initialise (one key share) and unseal a local Vault (dev only)",
        description="Initialise VAULT_ADDR if it is new, keeping the unseal key and root "
        "token 0600 in DIR (openbao-init.json, root-token), and unseal it if it is sealed. "
        "Dev and demo only: in production, unseal keys never sit beside the data.",
    )
    init.add_argument("--data-dir", required=True, metavar="DIR")
    init.set_defaults(handler=_init)
    boot = cmds.add_parser(
        "bootstrap",
        parents=[common],
        help="create mounts, the authz-signing key, policies and AppRoles (idempotent)",
        description="Needs a root token (or one allowed to manage mounts, policies and auth "
        "methods). With --approle-dir, writes ROLE.role-id and a fresh ROLE.secret-id (0600) "
        "for each of admin, authz-api, crypto-api, player, revoking the previous secret id.",
    )
    boot.add_argument("--approle-dir", metavar="DIR", help="write AppRole credentials here")
    boot.add_argument(
        "--approle-cidr",
        action="append",
        type=_cidr,
        metavar="CIDR",
        help="networks the services log in from (repeatable): AppRole secret ids and their "
        "tokens are refused elsewhere; without it, existing bindings are left unchanged",
    )
    boot.set_defaults(handler=_bootstrap)
