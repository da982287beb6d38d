"""``tokenctl player show|set ACCOUNT``: an account's player settings (DESIGN §11)."""

from __future__ import annotations

import argparse
import re
from typing import Any

import msgspec

from shared.accounts.store import AccountStore
from shared.cli._context import Context
from shared.cli._output import UsageError
from shared.identity import Campaign, PlayerSettings, PlayerSettingsInvalid, PlayerStore
from shared.identity.player_settings import (
    CAMPAIGN_ID_PATTERN,
    CLAIM_PATH_PATTERN,
    FIELD_NAME_PATTERN,
)

__all__ = ["register"]

_IDENTIFICATIONS = ("secure_token", "messages", "sso")

#: The options of ``player set`` that change something (the refusal of a set naming none).
_CHANGE_OPTIONS = (
    "--identification",
    "--parent-origin",
    "--no-parent-origins",
    "--prefill",
    "--no-prefill",
    "--profile-api",
    "--no-profile-api",
    "--campaign",
    "--remove-campaign",
    "--message-wait",
)


def _describe(account_id: str, settings: PlayerSettings) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(settings)
    return {"account": account_id, **data}


def _text(account_id: str, settings: PlayerSettings) -> str:
    lines = [
        f"account         {account_id}",
        f"identification  {settings.identification}",
        "parent origins  "
        + (", ".join(settings.parent_origins) or "(none: campaigns cannot be framed)"),
        f"profile api     {settings.profile_api or '(none)'}",
    ]
    if settings.identification == "messages":
        lines.append(f"message wait    {settings.message_wait} s (for the parent page's answer)")
    if settings.prefill:
        lines.append("prefill         (on top of profile.x/form.x/optin.x -> x)")
        lines += [f"  {path} -> {field}" for path, field in settings.prefill.items()]
    else:
        lines.append("prefill         default only (profile.x/form.x/optin.x -> x)")
    if settings.campaigns:
        lines.append("campaigns")
        lines += [f"  {cid}  {c.title}" for cid, c in settings.campaigns.items()]
    else:
        lines.append("campaigns       (none: the player serves nothing for this account)")
    return "\n".join(lines)


def _check(value: str, pattern: str, what: str, given: str) -> None:
    if not re.match(pattern, value):
        raise PlayerSettingsInvalid(f"{what} {value!r} in {given!r} must match {pattern}")


def _pairs(values: list[str], option: str, left: str, right: str) -> list[tuple[str, str]]:
    pairs = []
    for given in values:
        key, sep, value = given.partition("=")
        if not sep or not key or not value:
            raise PlayerSettingsInvalid(f"{option} takes {left}={right}, got {given!r}")
        pairs.append((key, value))
    return pairs


def _changed(current: PlayerSettings, args: argparse.Namespace) -> PlayerSettings:
    changes: dict[str, Any] = {}
    if args.identification is not None:
        changes["identification"] = args.identification
    if args.no_parent_origins:
        changes["parent_origins"] = ()
    elif args.parent_origin:
        changes["parent_origins"] = tuple(args.parent_origin)
    prefill = {} if args.no_prefill else dict(current.prefill)
    for path, field in _pairs(args.prefill or [], "--prefill", "CLAIM_PATH", "FIELD"):
        given = f"{path}={field}"
        _check(path, CLAIM_PATH_PATTERN, "claim path", given)
        _check(field, FIELD_NAME_PATTERN, "field name", given)
        prefill[path] = field
    if args.no_prefill or args.prefill:
        changes["prefill"] = prefill
    if args.no_profile_api:
        changes["profile_api"] = None
    elif args.profile_api is not None:
        changes["profile_api"] = args.profile_api
    if args.message_wait is not None:
        changes["message_wait"] = args.message_wait
    if args.campaign or args.remove_campaign:
        campaigns = dict(current.campaigns)
        for cid, title in _pairs(args.campaign or [], "--campaign", "ID", "TITLE"):
            _check(cid, CAMPAIGN_ID_PATTERN, "campaign id", f"{cid}={title}")
            if len(title) > 200:
                raise PlayerSettingsInvalid(f"campaign {cid!r}: the title is 1 to 200 characters")
            campaigns[cid] = Campaign(title=title)
        for cid in args.remove_campaign or []:
            if cid not in campaigns:
                raise PlayerSettingsInvalid(f"--remove-campaign {cid!r}: no such campaign")
            del campaigns[cid]
        changes["campaigns"] = campaigns
    try:
        # Through msgspec: the document's own bounds (counts, lengths) hold here too.
        updated = msgspec.convert(
            msgspec.to_builtins(msgspec.structs.replace(current, **changes)), PlayerSettings
        )
    except msgspec.ValidationError as exc:
        raise PlayerSettingsInvalid(f"player settings refused: {exc}") from exc
    return updated


def _given(args: argparse.Namespace) -> bool:
    return bool(
        args.identification is not None
        or args.parent_origin
        or args.no_parent_origins
        or args.prefill
        or args.no_prefill
        or args.profile_api is not None
        or args.no_profile_api
        or args.campaign
        or args.remove_campaign
        or args.message_wait is not None
    )


def _show(ctx: Context, args: argparse.Namespace) -> None:
    vault = ctx.vault()
    AccountStore(vault).get(args.account)  # unknown: ACCOUNT_NOT_FOUND
    settings, _ = PlayerStore(vault).get_versioned(args.account)
    ctx.out.result(_describe(args.account, settings), _text(args.account, settings))


def _set(ctx: Context, args: argparse.Namespace) -> None:
    if not _given(args):
        raise UsageError(
            f"nothing to set for {args.account!r}: give at least one of "
            + ", ".join(_CHANGE_OPTIONS)
        )
    vault = ctx.vault()
    AccountStore(vault).get(args.account)
    store = PlayerStore(vault)
    current, version = store.get_versioned(args.account)
    # Check-and-set against what the change was built from: a concurrent change fails
    # (AccountConflict) rather than being undone.
    updated = store.put(args.account, _changed(current, args), expected=version)
    text = (
        f"updated player settings of {args.account} (the player picks them up within its "
        f"cache TTL)\n{_text(args.account, updated)}"
    )
    ctx.out.result(_describe(args.account, updated), text)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``player`` and its subcommands."""
    player = sub.add_parser("player", help="accounts' player settings", parents=[common])
    cmds = player.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    show = cmds.add_parser("show", parents=[common], help="show an account's player settings")
    show.add_argument("account", metavar="ACCOUNT")
    show.set_defaults(handler=_show)

    st = cmds.add_parser(
        "set",
        parents=[common],
        help="change an account's player settings",
        description="Change only what is given; the rest stays. Writes with check-and-set: "
        "if someone changed the settings meanwhile, nothing is written (re-run).",
    )
    st.add_argument("account", metavar="ACCOUNT")
    st.add_argument(
        "--identification",
        choices=_IDENTIFICATIONS,
        help="the identification channel at the form step",
    )
    origins = st.add_mutually_exclusive_group()
    origins.add_argument(
        "--parent-origin",
        action="append",
        metavar="ORIGIN",
        help="an origin allowed to frame the campaigns, https://host[:port] (repeatable; "
        "replaces the list)",
    )
    origins.add_argument(
        "--no-parent-origins", action="store_true", help="no origin may frame the campaigns"
    )
    st.add_argument(
        "--prefill",
        action="append",
        metavar="CLAIM_PATH=FIELD",
        help="fill form field FIELD from the token's CLAIM_PATH (sub, profile.x, form.x, "
        "optin.x, custom.x; repeatable; adds or replaces entries)",
    )
    st.add_argument(
        "--no-prefill", action="store_true", help="clear the explicit prefill mapping first"
    )
    api = st.add_mutually_exclusive_group()
    api.add_argument("--profile-api", metavar="URL", help="the customer's profile API (https)")
    api.add_argument("--no-profile-api", action="store_true", help="remove the profile API")
    st.add_argument(
        "--campaign",
        action="append",
        metavar="ID=TITLE",
        help="add or retitle a campaign the player serves (repeatable)",
    )
    st.add_argument(
        "--remove-campaign",
        action="append",
        metavar="ID",
        help="stop serving a campaign (repeatable)",
    )
    st.add_argument(
        "--message-wait",
        type=int,
        metavar="SECONDS",
        help="with --identification messages: how long a campaign waits for the parent "
        "page's answer before it says the page did not answer (1-900; 120)",
    )
    st.set_defaults(handler=_set)
