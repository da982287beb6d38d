"""``tokenctl keys …``: list, rotate and retire an account's JWE key versions."""

from __future__ import annotations

import argparse
import sys

from shared.accounts.keys import KeySet, KeyStore
from shared.accounts.store import AccountStore
from shared.cli._context import Context
from shared.errors import AccountNotFound

__all__ = ["register"]


def _table(keys: KeySet) -> str:
    rows = [f"{'version':>7}  {'created':<25}  status"]
    for v in keys.versions:
        created = v.created_at.isoformat(timespec="seconds") if v.created_at else "-"
        rows.append(f"{v.version:>7}  {created:<25}  {v.status}")
    rows.append(
        "(encrypt: new JWEs are sealed with it; decrypt: JWEs sealed with it still open; "
        "retired: refused)"
    )
    return "\n".join(rows)


def _impact(keys: KeySet, below: int) -> tuple[list[int], str]:
    """The versions ``below`` would newly retire, and what that means for tokens."""
    doomed = list(range(keys.min_decryption_version, min(below, keys.latest_version + 1)))
    if not doomed:
        return doomed, "nothing more would be retired"
    successor = next((v for v in keys.versions if v.version == doomed[-1] + 1), None)
    since = (
        f" (it replaced them on {successor.created_at.isoformat(timespec='seconds')})"
        if successor is not None and successor.created_at is not None
        else ""
    )
    # Issued JWEs are not recorded anywhere (the Crypto API keeps no copy), so the count
    # of outstanding tokens is unknown: say so rather than print a reassuring zero.
    return doomed, (
        f"every token sealed under versions {doomed} stops opening with "
        f"TOKEN_DECRYPTION_FAILED: those sealed before version {doomed[-1] + 1} became "
        f"current{since}, plus up to the services' cache TTL after. Issued tokens are not "
        "tracked, so how many are still outstanding is unknown: check your campaigns' "
        "expiry dates first."
    )


def _data(keys: KeySet) -> dict[str, object]:
    return {
        "account": keys.account_id,
        "key_type": keys.key_type,
        "latest_version": keys.latest_version,
        "min_decryption_version": keys.min_decryption_version,
        "versions": list(keys.versions),
    }


def _keys_of(ctx: Context, account_id: str) -> KeySet:
    """The account's key set; for an id with no key, say whether the account exists."""
    try:
        return KeyStore(ctx.vault()).get(account_id)
    except AccountNotFound:
        # A typo is far likelier than an account without its key: name the cause.
        AccountStore(ctx.vault()).get(account_id)  # ACCOUNT_NOT_FOUND "no account 'x'"
        raise


def _list(ctx: Context, args: argparse.Namespace) -> None:
    keys = _keys_of(ctx, args.id)
    ctx.out.result(_data(keys), _table(keys))


def _rotate(ctx: Context, args: argparse.Namespace) -> None:
    try:
        keys = KeyStore(ctx.vault()).rotate(args.id)
    except AccountNotFound:
        AccountStore(ctx.vault()).get(args.id)  # as in _keys_of
        raise
    ctx.out.result(
        _data(keys),
        f"rotated {keys.account_id}: new JWEs use version {keys.latest_version} "
        f"(kid {keys.latest.kid}); older versions still decrypt until retired",
    )


def _confirmed(ctx: Context, args: argparse.Namespace, keys: KeySet) -> bool:
    if args.yes:
        return True
    doomed, impact = _impact(keys, args.below)
    if not doomed or args.below > keys.latest_version:
        return True  # nothing new would be retired, or Vault refuses it anyway
    if ctx.out.as_json or not sys.stdin.isatty():
        ctx.out.refuse(
            "CONFIRMATION_REQUIRED",
            f"retiring versions {doomed} of {args.id} needs --yes when not interactive",
            exit_code=2,
        )
    ctx.out.note(f"{args.id}: {impact}")
    answer = input(f"Type the account id ({args.id}) to confirm: ")
    return bool(answer.strip() == args.id)


def _retire(ctx: Context, args: argparse.Namespace) -> None:
    store = KeyStore(ctx.vault())
    current = _keys_of(ctx, args.id)
    if not _confirmed(ctx, args, current):
        ctx.out.refuse("NOT_CONFIRMED", "nothing retired")
    doomed, impact = _impact(current, args.below)
    keys = store.retire(args.id, args.below)
    ctx.out.result(
        {**_data(keys), "retired_now": doomed, "outstanding_tokens": None, "impact": impact},
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
        "cannot be retired. Shows which versions and which tokens are affected (issued "
        "tokens are not tracked, so their number is unknown) and asks for confirmation "
        "unless --yes.",
    )
    retire.add_argument("id", help="account id")
    retire.add_argument("--below", type=int, required=True, metavar="N")
    retire.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    retire.set_defaults(handler=_retire)
