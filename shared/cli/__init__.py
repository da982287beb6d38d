"""``tokenctl``: the command line for security teams and customers' developers.

Every command takes ``--json``. Exit codes: see :data:`shared.cli._output.EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from shared.cli import (
    _accounts,
    _encrypt,
    _keycloak_check,
    _keys,
    _player,
    _serve,
    _token,
    _up,
    _vault,
    _webhooks,
)
from shared.cli._context import Context
from shared.cli._output import EXIT_CODES, Output, UsageError
from shared.errors import ServiceError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the commands)."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite a --json given earlier.
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    parser = argparse.ArgumentParser(
        prog="tokenctl",
        description="Manage secure-token accounts and keys in Vault; sign, seal and verify "
        "tokens. Vault is found through VAULT_ADDR and VAULT_TOKEN (or VAULT_ROLE_ID + "
        "VAULT_SECRET_ID).",
        epilog="exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()),
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        _vault,
        _accounts,
        _keys,
        _player,
        _token,
        _encrypt,
        _serve,
        _up,
        _keycloak_check,
        _webhooks,
    ):
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tokenctl`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    ctx = Context(Output(as_json=getattr(args, "json", False)))
    try:
        args.handler(ctx, args)
    except ServiceError as exc:
        ctx.out.fail(ctx.explain(exc))
    except UsageError as exc:
        ctx.out.refuse(exc.code, exc.detail, exit_code=2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
