"""``tokenctl vault bootstrap``."""

from __future__ import annotations

import argparse

from shared.bootstrap import bootstrap
from shared.cli._context import Context

__all__ = ["register"]


def _bootstrap(ctx: Context, args: argparse.Namespace) -> None:
    report = bootstrap(ctx.vault())
    lines = [f"created  {c}" for c in report.created] + [f"present  {p}" for p in report.present]
    ctx.out.result({"created": report.created, "present": report.present}, "\n".join(lines))


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``vault`` and its subcommands."""
    vault = sub.add_parser("vault", help="Vault set-up", parents=[common])
    cmds = vault.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    boot = cmds.add_parser(
        "bootstrap",
        parents=[common],
        help="create mounts, the authz-signing key and policies (idempotent)",
    )
    boot.set_defaults(handler=_bootstrap)
