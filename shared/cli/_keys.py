"""``tokenctl keys …``: list, rotate and retire an account's JWE key versions."""

from __future__ import annotations

import argparse
import sys

from shared.cli._context import Context
from shared.keys import KeySet, KeyStore

__all__ = ["register"]


def _table(keys: KeySet) -> str:
    rows = [f"{'version':>7}  {'created':<25}  status"]
    for v in keys.versions:
        created = v.created_at.isoformat(timespec="seconds") if v.created_at else "-"
        rows.append(f"{v.version:>7}  {created:<25}  {v.status}")
    return "\n".join(rows)


def _data(keys: KeySet) -> dict[str, object]:
    return {
        "account": keys.account_id,
        "key_type": keys.key_type,
        "latest_version": keys.latest_version,
        "min_decryption_version": keys.min_decryption_version,
        "versions": list(keys.versions),
    }


def _list(ctx: Context, args: argparse.Namespace) -> None:
    keys = KeyStore(ctx.vault()).get(args.id)
    ctx.out.result(_data(keys), _table(keys))


def _rotate(ctx: Context, args: argparse.Namespace) -> None:
    keys = KeyStore(ctx.vault()).rotate(args.id)
    ctx.out.result(
        _data(keys),
        f"rotated {keys.account_id}: new JWEs use version {keys.latest_version} "
        f"(kid {keys.latest.kid}); older versions still decrypt until retired",
    )


def _confirmed(ctx: Context, args: argparse.Namespace, keys: KeySet) -> bool:
    if args.yes:
        return True
    doomed = list(range(keys.min_decryption_version, args.below))
    if not doomed:
        return True  # nothing new would be retired
    if ctx.out.as_json or not sys.stdin.isatty():
        ctx.out.refuse(
            "CONFIRMATION_REQUIRED",
            f"retiring versions {doomed} of {args.id} needs --yes when not interactive",
            exit_code=2,
        )
    ctx.out.note(
        f"Versions {doomed} of {args.id} will stop decrypting: every token sealed under "
        "them will be refused with TOKEN_DECRYPTION_FAILED."
    )
    answer = input(f"Type the account id ({args.id}) to confirm: ")
    return bool(answer.strip() == args.id)


def _retire(ctx: Context, args: argparse.Namespace) -> None:
    store = KeyStore(ctx.vault())
    current = store.get(args.id)
    if not _confirmed(ctx, args, current):
        ctx.out.refuse("NOT_CONFIRMED", "nothing retired")
    keys = store.retire(args.id, args.below)
    ctx.out.result(
        _data(keys),
        f"{keys.account_id}: versions below {keys.min_decryption_version} are retired\n"
        + _table(keys),
    )


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``keys`` and its subcommands."""
    keys = sub.add_parser("keys", help="an account's encryption key versions", parents=[common])
    cmds = keys.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    lst = cmds.add_parser("list", parents=[common], help="versions, creation time, status")
    lst.add_argument("id", help="account id")
    lst.set_defaults(handler=_list)

    rotate = cmds.add_parser("rotate", parents=[common], help="add a key version; new JWEs use it")
    rotate.add_argument("id", help="account id")
    rotate.set_defaults(handler=_rotate)

    retire = cmds.add_parser(
        "retire",
        parents=[common],
        help="stop decrypting versions below N",
        description="Tokens sealed under retired versions are refused. The latest version "
        "cannot be retired. Asks for confirmation unless --yes.",
    )
    retire.add_argument("id", help="account id")
    retire.add_argument("--below", type=int, required=True, metavar="N")
    retire.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    retire.set_defaults(handler=_retire)
