"""``tokenctl keys …``: list, rotate, schedule and retire an account's JWE key versions."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from shared.accounts.keys import KeySet, KeyStore
from shared.accounts.retirement import SafeRetirement, retire_safely
from shared.accounts.store import AccountStore
from shared.cli._context import Context
from shared.cli._output import UsageError
from shared.cli._periods import format_period, parse_period
from shared.errors import AccountNotFound

__all__ = ["register"]


def _seconds(value: str) -> float:
    """``--sealing-lag``'s parser: a finite number of seconds, 0 or more."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"a number of seconds, 0 or more; got {value!r}")
    return seconds


def _rotation(keys: KeySet) -> str:
    if keys.auto_rotate_period == 0:
        return f"rotation: by hand only (tokenctl keys schedule {keys.account_id} --every 30d)"
    latest = next((v.created_at for v in keys.versions if v.version == keys.latest_version), None)
    due = ""
    if latest is not None:
        # "about": Vault checks periodically, not at the exact second.
        when = latest + timedelta(seconds=keys.auto_rotate_period)
        due = f", next about {when.isoformat(timespec='seconds')}"
    return (
        f"rotation: Vault rotates every {format_period(keys.auto_rotate_period)} "
        f"(once the latest version is that old{due})"
    )


def _table(keys: KeySet) -> str:
    rows = [_rotation(keys), f"{'version':>7}  {'created':<25}  status"]
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
        "auto_rotate_period": keys.auto_rotate_period,
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


def _schedule(ctx: Context, args: argparse.Namespace) -> None:
    every = parse_period(args.every)
    try:
        keys = KeyStore(ctx.vault()).schedule(args.id, every)
    except AccountNotFound:
        AccountStore(ctx.vault()).get(args.id)  # as in _keys_of
        raise
    ctx.out.result(_data(keys), f"{keys.account_id} {_rotation(keys)}")


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


def _safe_text(keys: KeySet, decided: SafeRetirement) -> str:
    bound = decided.bound
    why = (
        f"a token sealed by the Crypto API is refused everywhere {decided.horizon} s after "
        f"it was sealed (max lifetime {bound.max_lifetime} s + 3 x leeway {bound.leeway} s), "
        f"and it may seal under a version up to {decided.sealing_lag:g} s after the next "
        "one became current (its key cache)"
    )
    done = (
        f"retired versions {list(decided.retire)}: no unexpired token can need them"
        if decided.retire
        else "nothing to retire: every older version may still be needed"
    )
    lines = [f"{keys.account_id}: {done}; {why}."]
    lines += [
        f"  version {v.version}: {'retired' if v.retire else 'kept'}: {v.reason}"
        for v in decided.verdicts
    ]
    lines.append(
        "Not covered: tokens sealed without the Crypto API (a customer encrypting with the "
        "published JWKS, `tokenctl token seal`), which are not verified before sealing."
    )
    return "\n".join(lines) + "\n" + _table(keys)


def _retire_safe(ctx: Context, args: argparse.Namespace) -> None:
    vault = ctx.vault()
    lag = args.sealing_lag
    if lag is None:
        lag = vault.settings.cache_ttl + vault.settings.cache_stale_if_error
    keys, decided = retire_safely(
        AccountStore(vault), KeyStore(vault), args.id, sealing_lag=lag, now=datetime.now(UTC)
    )
    ctx.out.result(
        {**_data(keys), "retired_now": list(decided.retire), "safe": decided},
        _safe_text(keys, decided),
    )


def _retire(ctx: Context, args: argparse.Namespace) -> None:
    if args.safe:
        _retire_safe(ctx, args)
        return
    if args.sealing_lag is not None:
        raise UsageError("--sealing-lag goes with --safe only")
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

    schedule = cmds.add_parser(
        "schedule",
        parents=[common],
        help="have Vault rotate the key every period",
        description="Sets Transit's auto_rotate_period: Vault adds a version once the "
        "latest is that old. 0 or off stops it; otherwise at least 1h.",
    )
    schedule.add_argument("id", help="account id")
    schedule.add_argument(
        "--every", required=True, metavar="PERIOD", help="30d, 12h, 1h30m...; 0 or off: never"
    )
    schedule.set_defaults(handler=_schedule)

    retire = cmds.add_parser(
        "retire",
        parents=[common],
        help="stop decrypting versions below N, or those no token can need (--safe)",
        description="Tokens sealed under retired versions are refused. The latest version "
        "cannot be retired. --below N shows which versions and which tokens are affected "
        "(issued tokens are not tracked, so their number is unknown) and asks for "
        "confirmation unless --yes. --safe retires exactly the versions no unexpired token "
        "can still need, which the account's policy must bound (--require-exp and "
        "--max-lifetime); it needs no confirmation.",
    )
    retire.add_argument("id", help="account id")
    which = retire.add_mutually_exclusive_group(required=True)
    which.add_argument("--below", type=int, metavar="N")
    which.add_argument(
        "--safe", action="store_true", help="only versions no unexpired token can need"
    )
    retire.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    retire.add_argument(
        "--sealing-lag",
        type=_seconds,
        metavar="S",
        help="with --safe: how long after a rotation the Crypto API may still seal under the "
        "previous version (default: its cache TTL + stale-if-error, 30 s + 3600 s)",
    )
    retire.set_defaults(handler=_retire)
