"""``tokenctl player show|set ACCOUNT``: an account's player settings (DESIGN §11)."""

from __future__ import annotations

import argparse
import base64
import getpass
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import msgspec

from shared.accounts.store import AccountStore
from shared.cli._context import Context
from shared.cli._output import UsageError
from shared.identity import (
    Campaign,
    PlayerSecrets,
    PlayerSecretsStore,
    PlayerSettings,
    PlayerSettingsInvalid,
    PlayerStore,
    SsoSettings,
    WebhookSettings,
    validate_player_settings,
)
from shared.identity.player_settings import (
    CAMPAIGN_ID_PATTERN,
    CLAIM_PATH_PATTERN,
    FIELD_NAME_PATTERN,
    SSO_DEFAULT_PREFILL,
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
    "--sso-issuer",
    "--sso-client-id",
    "--no-sso",
    "--webhook-url",
    "--no-webhook",
)
#: The SSO options that change one setting each (argparse dest -> SsoSettings field).
_SSO_FIELDS = {
    "sso_issuer": "issuer",
    "sso_authorization_endpoint": "authorization_endpoint",
    "sso_token_endpoint": "token_endpoint",
    "sso_userinfo_endpoint": "userinfo_endpoint",
    "sso_jwks_uri": "jwks_uri",
    "sso_client_id": "client_id",
    "sso_scope": "scope",
    "sso_pkce": "pkce",
    "sso_client_auth": "client_auth",
    "sso_profile_source": "profile_source",
}
#: Standard Webhooks' secret form: ``whsec_`` and the base64 of 24 to 64 bytes.
_WHSEC = re.compile(r"whsec_([A-Za-z0-9+/]{32,88}={0,2})")


def _describe(account_id: str, settings: PlayerSettings, secrets_set: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(settings)
    # Which secrets are set, never what they are.
    return {"account": account_id, **data, "secrets": secrets_set}


def _text(account_id: str, settings: PlayerSettings, secrets_set: list[str]) -> str:
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
    lines += _sso_text(settings.sso, secrets_set)
    lines += _webhook_text(settings.webhook, secrets_set)
    return "\n".join(lines)


def _is_set(name: str, secrets_set: list[str]) -> str:
    return "set" if name in secrets_set else "(not set)"


def _sso_text(sso: SsoSettings | None, secrets_set: list[str]) -> list[str]:
    if sso is None:
        return ["sso             (none)"]
    lines = [
        f"sso             client {sso.client_id} at {sso.issuer or '(endpoints given)'}",
        f"  scope {sso.scope!r}, PKCE {'on' if sso.pkce else 'off'}, {sso.client_auth}, "
        f"profile from {sso.profile_source}",
        f"  client secret {_is_set('sso_client_secret', secrets_set)}",
    ]
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        if getattr(sso, name):
            lines.append(f"  {name} {getattr(sso, name)}")
    mapping = {**SSO_DEFAULT_PREFILL, **sso.prefill}
    lines += [f"  {claim} -> {field}" for claim, field in mapping.items()]
    return lines


def _webhook_text(webhook: WebhookSettings | None, secrets_set: list[str]) -> list[str]:
    if webhook is None:
        return ["webhook         (none)"]
    lines = [
        f"webhook         {webhook.url} (signing secret {_is_set('webhook_secret', secrets_set)})"
    ]
    if webhook.auth_header:
        value = _is_set("webhook_auth_value", secrets_set)
        lines.append(f"  auth header {webhook.auth_header} (value {value})")
    return lines


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
    if args.no_sso:
        changes["sso"] = None
    elif _sso_given(args):
        changes["sso"] = _sso(current.sso, args)
    if args.no_webhook:
        changes["webhook"] = None
    elif args.webhook_url is not None or args.webhook_auth_header is not None:
        changes["webhook"] = _webhook(current.webhook, args)
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


def _sso_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, dest) is not None for dest in _SSO_FIELDS) or bool(args.sso_prefill)


def _sso(current: SsoSettings | None, args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(current) if current is not None else {}
    for dest, field in _SSO_FIELDS.items():
        value = getattr(args, dest)
        if value is not None:
            data[field] = value
    if "client_id" not in data:
        raise PlayerSettingsInvalid("the first --sso-… change needs --sso-client-id")
    prefill = dict(data.get("prefill", {}))
    for claim, field in _pairs(args.sso_prefill or [], "--sso-prefill", "CLAIM", "FIELD"):
        _check(field, FIELD_NAME_PATTERN, "field name", f"{claim}={field}")
        prefill[claim] = field
    data["prefill"] = prefill
    return data


def _auth_header(given: str) -> tuple[str, str]:
    name, sep, value = given.partition(":")
    if not sep or not name.strip() or not value.strip():
        raise PlayerSettingsInvalid("--webhook-auth-header takes 'Name: value'")
    return name.strip(), value.strip()


def _webhook(current: WebhookSettings | None, args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(current) if current is not None else {}
    if args.webhook_url is not None:
        data["url"] = args.webhook_url
    if "url" not in data:
        raise PlayerSettingsInvalid("--webhook-auth-header needs a webhook: give --webhook-url")
    if args.webhook_auth_header is not None:
        data["auth_header"] = _auth_header(args.webhook_auth_header)[0]
    return data


def _secret_text(path: str, what: str) -> str:
    """A secret from a file, or from standard input for ``-`` (prompted on a terminal)."""
    if path == "-":
        text = getpass.getpass(f"{what}: ") if sys.stdin.isatty() else sys.stdin.read()
    else:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlayerSettingsInvalid(f"cannot read the {what} file {path!r}: {exc}") from None
    text = text.strip()
    if not text or any(not 0x20 < ord(c) < 0x7F for c in text):
        raise PlayerSettingsInvalid(f"the {what} must be printable ASCII with no spaces")
    return text


def _webhook_secret(path: str) -> str:
    text = _secret_text(path, "webhook secret")
    found = _WHSEC.fullmatch(text)
    if found is None or len(base64.b64decode(found.group(1))) < 24:
        raise PlayerSettingsInvalid(
            "the webhook secret must be Standard Webhooks' whsec_<base64 of 24-64 bytes>"
        )
    return text


def _secret_changes(
    current: PlayerSecrets, updated: PlayerSettings, args: argparse.Namespace
) -> tuple[dict[str, str | None], str | None]:
    """What to change in the secrets, and a webhook secret generated now (printed once)."""
    changes: dict[str, str | None] = {}
    generated = None
    if args.sso_client_secret_file is not None:
        changes["sso_client_secret"] = _secret_text(args.sso_client_secret_file, "client secret")
    if updated.sso is None:
        changes["sso_client_secret"] = None
    if args.webhook_secret_file is not None:
        changes["webhook_secret"] = _webhook_secret(args.webhook_secret_file)
    elif updated.webhook is not None and current.webhook_secret is None:
        generated = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        changes["webhook_secret"] = generated
    if args.webhook_auth_header is not None:
        changes["webhook_auth_value"] = _auth_header(args.webhook_auth_header)[1]
    if updated.webhook is None:
        changes["webhook_secret"] = changes["webhook_auth_value"] = None
    elif updated.webhook.auth_header is None:
        changes["webhook_auth_value"] = None
    return changes, generated


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
        or _sso_given(args)
        or args.sso_client_secret_file is not None
        or args.no_sso
        or args.webhook_url is not None
        or args.webhook_auth_header is not None
        or args.webhook_secret_file is not None
        or args.no_webhook
    )


def _show(ctx: Context, args: argparse.Namespace) -> None:
    vault = ctx.vault()
    AccountStore(vault).get(args.account)  # unknown: ACCOUNT_NOT_FOUND
    settings, _ = PlayerStore(vault).get_versioned(args.account)
    names = PlayerSecretsStore(vault).get_versioned(args.account)[0].names()
    ctx.out.result(_describe(args.account, settings, names), _text(args.account, settings, names))


def _set(ctx: Context, args: argparse.Namespace) -> None:
    if not _given(args):
        raise UsageError(
            f"nothing to set for {args.account!r}: give at least one of "
            + ", ".join(_CHANGE_OPTIONS)
        )
    vault = ctx.vault()
    AccountStore(vault).get(args.account)
    store, vault_secrets = PlayerStore(vault), PlayerSecretsStore(vault)
    current, version = store.get_versioned(args.account)
    updated = validate_player_settings(_changed(current, args))  # before any write
    held, held_version = vault_secrets.get_versioned(args.account)
    changes, generated = _secret_changes(held, updated, args)
    if (
        updated.sso is not None
        and (changes.get("sso_client_secret", held.sso_client_secret)) is None
    ):
        raise PlayerSettingsInvalid(
            "sso needs the client secret: give --sso-client-secret-file FILE (or - to type it)"
        )
    if args.webhook_secret_file is not None and updated.webhook is None:
        raise PlayerSettingsInvalid("--webhook-secret-file needs a webhook: give --webhook-url")
    # Secrets first: settings naming a secret that failed to be written would be unusable.
    # Both writes are check-and-set against what this change was built from.
    kept = msgspec.structs.replace(held, **changes)
    if kept != held:
        vault_secrets.put(args.account, kept, expected=held_version)
    updated = store.put(args.account, updated, expected=version)
    names = kept.names()
    text = (
        f"updated player settings of {args.account} (the player picks them up within its "
        f"cache TTL)\n{_text(args.account, updated, names)}"
    )
    result = _describe(args.account, updated, names)
    if generated is not None:
        # Printed this once, like a generated account secret: the receiver needs it to
        # check the signatures.
        result["webhook_secret"] = generated
        text += f"\nwebhook signing secret (shown once, give it to the receiver): {generated}"
    ctx.out.result(result, text)


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
    sso = st.add_argument_group("single sign-on (--identification sso)")
    sso.add_argument("--sso-issuer", metavar="URL", help="the IdP's issuer (discovery)")
    for flag, what in (
        ("--sso-authorization-endpoint", "the authorization endpoint"),
        ("--sso-token-endpoint", "the token endpoint"),
        ("--sso-userinfo-endpoint", "the userinfo endpoint"),
        ("--sso-jwks-uri", "the IdP's JWKS (for JWT profile sources)"),
    ):
        sso.add_argument(flag, metavar="URL", help=f"{what} (overrides discovery)")
    sso.add_argument("--sso-client-id", metavar="ID", help="the player's client id at the IdP")
    sso.add_argument(
        "--sso-client-secret-file",
        metavar="FILE",
        help="the client secret, from FILE (- reads standard input, prompting on a terminal); "
        "kept in Vault, never printed",
    )
    sso.add_argument("--sso-scope", metavar="SCOPE", help="(openid profile email)")
    sso.add_argument(
        "--sso-pkce", action=argparse.BooleanOptionalAction, default=None, help="PKCE S256 (on)"
    )
    sso.add_argument(
        "--sso-client-auth",
        choices=("client_secret_post", "client_secret_basic"),
        help="token request authentication (client_secret_post)",
    )
    sso.add_argument(
        "--sso-profile-source",
        choices=("userinfo", "access_token", "id_token"),
        help="where the profile is read (userinfo)",
    )
    sso.add_argument(
        "--sso-prefill",
        action="append",
        metavar="CLAIM=FIELD",
        help="fill FIELD from the IdP's CLAIM, on top of given_name, family_name, email and "
        "birthdate (repeatable)",
    )
    sso.add_argument("--no-sso", action="store_true", help="remove the SSO client and its secret")
    hook = st.add_argument_group("profile.updated webhook")
    hook.add_argument("--webhook-url", metavar="URL", help="the receiver (https)")
    hook.add_argument(
        "--webhook-secret-file",
        metavar="FILE",
        help="the signing secret, whsec_<base64> (- reads standard input); without it a new "
        "webhook gets a generated one, printed once",
    )
    hook.add_argument(
        "--webhook-auth-header",
        metavar="'NAME: VALUE'",
        help="a header sent with every event (its value kept in Vault, never printed)",
    )
    hook.add_argument(
        "--no-webhook", action="store_true", help="remove the webhook and its secrets"
    )
    st.set_defaults(handler=_set)
