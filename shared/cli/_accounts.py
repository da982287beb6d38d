"""``tokenctl accounts …``: create, update, show, list, disable customer accounts."""

from __future__ import annotations

import argparse
import math
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import redis

from shared.accounts.document import (
    JWT_BEARER_POLICIES,
    Account,
    CustomerEncryption,
    JwksValidation,
    PublicKeyValidation,
    RateLimit,
    RateLimits,
    SymmetricValidation,
    TokenPolicy,
    Validation,
    method_of,
)
from shared.accounts.store import AccountStore
from shared.algorithms import CUSTOMER_JWE_ALGS, CUSTOMER_JWE_ENCS, TRANSIT_KEY_TYPES
from shared.cli._context import Context
from shared.cli._keycloak import fail_after, inspection_data, inspection_text, mirror, provisioner
from shared.cli._output import UsageError
from shared.cli._signing import check_secret_text
from shared.errors import AccountInvalid, ConfigurationError
from shared.server.account_changes import publish_account_changed

__all__ = ["register"]

_KEYCLOAK_HELP = (
    "also mirror the account into the Keycloak realm (KEYCLOAK_URL, KEYCLOAK_REALM; admin "
    "login from KEYCLOAK_ADMIN_*): its client, audience mapper, scope and user; idempotent"
)

_JWT_BEARER_HELP = (
    "may a secure token be exchanged for a bearer (jwt-bearer grant): allowed (default), "
    "require_aud (only tokens whose aud names the token endpoint or issuer) or disabled"
)


def _read_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise AccountInvalid(f"cannot read {what} file {path!r}: {exc.strerror}") from None


def _read_secret(path: str) -> bytes:
    secret = _read_file(path, "secret")
    check_secret_text(secret, path)  # `echo SECRET > FILE`: refused, with the fix
    return secret


def _generated_secret() -> bytes:
    # 64 URL-safe characters (384 bits): long enough for HS512, and the printed text *is*
    # the key bytes, so customers paste it as a string into any JWT library.
    return secrets.token_urlsafe(48).encode("ascii")


def _validation(args: argparse.Namespace) -> tuple[Validation, bytes | None]:
    algs = tuple(args.alg)
    if args.method == "public_key":
        if not args.pem:
            raise AccountInvalid("--method public_key needs --pem FILE (the customer's public key)")
        pem = _read_file(args.pem, "PEM").decode("utf-8", "replace")
        return PublicKeyValidation(algorithms=algs, public_key_pem=pem), None
    if args.method == "symmetric":
        generated = None
        if args.secret_file:
            secret = _read_secret(args.secret_file)
        else:
            secret = generated = _generated_secret()
        return SymmetricValidation(algorithms=algs, secret=secret), generated
    if not args.jwks_uri:
        raise AccountInvalid("--method jwks needs --jwks-uri URL")
    return JwksValidation(algorithms=algs, jwks_uri=args.jwks_uri), None


def _customer_encryption(args: argparse.Namespace) -> CustomerEncryption | None:
    given = [args.customer_enc_key_file, args.customer_enc_alg, args.customer_enc_enc]
    if not any(given):
        return None
    if not all(given):
        raise AccountInvalid(
            "customer encryption needs all of --customer-enc-key-file, --customer-enc-alg "
            "and --customer-enc-enc"
        )
    key = _read_file(args.customer_enc_key_file, "customer encryption key")
    return CustomerEncryption(alg=args.customer_enc_alg, enc=args.customer_enc_enc, key=key)


_RATE_LIMIT_HELP = (
    "this account's limit on the Crypto API, per instance: PER_SECOND[:BURST] (burst "
    "default: twice the rate; 0 means no limit), or 'default' for the environment's "
    "{env}_* ({default})"
)


def _rate_limit(value: str | None, option: str) -> RateLimit | None:
    """``PER_SECOND[:BURST]`` as a limit; ``default`` (or nothing) is None."""
    if value is None or value.strip() == "default":
        return None
    rate_text, _, burst_text = value.partition(":")
    try:
        rate = float(rate_text)
        burst = int(burst_text) if burst_text else None
    except ValueError:
        raise AccountInvalid(
            f"{option} must be PER_SECOND[:BURST] (e.g. 200 or 200:400) or 'default', got {value!r}"
        ) from None
    if not (math.isfinite(rate) and 0 <= rate <= 1_000_000):
        raise AccountInvalid(f"{option}: the rate must be 0 to 1000000 a second, got {value!r}")
    burst = max(1, math.ceil(2 * rate)) if burst is None else burst
    if not 1 <= burst <= 10_000_000:
        raise AccountInvalid(f"{option}: the burst must be 1 to 10000000, got {value!r}")
    return RateLimit(per_second=rate, burst=burst)


def _rate_limits(args: argparse.Namespace, current: RateLimits | None = None) -> RateLimits:
    """The account's limits after ``--rate-limit`` / ``--batch-rate-limit`` (unchanged when
    not given)."""
    current = current or RateLimits()
    single, batch = current.single, current.batch
    if args.rate_limit is not None:
        single = _rate_limit(args.rate_limit, "--rate-limit")
    if args.batch_rate_limit is not None:
        batch = _rate_limit(args.batch_rate_limit, "--batch-rate-limit")
    return RateLimits(single=single, batch=batch)


def _limit_text(limit: RateLimit | None, unit: str, env: str) -> str:
    if limit is None:
        return f"default ({env}_*)"
    if limit.per_second == 0:
        return "none"
    return f"{limit.per_second:g} {unit}/s, burst {limit.burst}"


def _add_rate_limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate-limit",
        metavar="PER_SECOND[:BURST]",
        help="/v1/encrypt calls: "
        + _RATE_LIMIT_HELP.format(env="CRYPTO_RATE_LIMIT", default="500:1000"),
    )
    parser.add_argument(
        "--batch-rate-limit",
        metavar="PER_SECOND[:BURST]",
        help="tokens of /v1/encrypt/batch calls, a budget apart: "
        + _RATE_LIMIT_HELP.format(env="CRYPTO_BATCH_RATE_LIMIT", default="5000:10000"),
    )


def describe(account: Account) -> dict[str, Any]:
    """The account as shown to operators: secrets replaced by their length."""
    data: dict[str, Any] = msgspec.to_builtins(account)
    v = account.validation
    if isinstance(v, SymmetricValidation):
        data["validation"]["secret"] = f"<hidden, {len(v.secret)} bytes>"
    if account.customer_encryption is not None:
        data["customer_encryption"]["key"] = (
            f"<hidden, {len(account.customer_encryption.key)} bytes>"
        )
    return data


def _text(account: Account) -> str:
    v = account.validation
    method = method_of(v)
    lines = [
        f"account     {account.id} ({account.status})",
        f"method      {method}, algorithms {', '.join(v.algorithms)}",
    ]
    if isinstance(v, JwksValidation):
        lines.append(f"jwks_uri    {v.jwks_uri}")
    if isinstance(v, SymmetricValidation):
        lines.append(f"secret      <hidden, {len(v.secret)} bytes>")
    if account.issuer:
        lines.append(f"issuer      {account.issuer}")
    ce = account.customer_encryption
    if ce:
        lines.append(f"customer enc {ce.alg} + {ce.enc} (key hidden, {len(ce.key)} bytes)")
    p = account.policy
    lines.append(
        f"policy      leeway {p.leeway}s, exp {'required' if p.require_exp else 'optional'}, "
        f"max lifetime {p.max_lifetime or 'none'}"
    )
    lines.append(f"jwt-bearer  {p.jwt_bearer}")
    limits = account.rate_limits
    lines.append(
        f"rate limit  {_limit_text(limits.single, 'calls', 'CRYPTO_RATE_LIMIT')}; batch "
        f"{_limit_text(limits.batch, 'tokens', 'CRYPTO_BATCH_RATE_LIMIT')}"
    )
    lines.append(f"key type    {account.key_type}")
    return "\n".join(lines)


def _create(ctx: Context, args: argparse.Namespace) -> None:
    keycloak = provisioner(ctx) if args.keycloak else None  # configuration errors: before writing
    validation, generated = _validation(args)
    account = Account(
        id=args.id,
        validation=validation,
        issuer=args.issuer,
        customer_encryption=_customer_encryption(args),
        policy=TokenPolicy(
            leeway=args.leeway,
            require_exp=args.require_exp,
            max_lifetime=args.max_lifetime,
            jwt_bearer=args.jwt_bearer,
        ),
        key_type=args.key_type,
        rate_limits=_rate_limits(args),
    )
    created = AccountStore(ctx.vault()).create(account)
    data: dict[str, Any] = {"account": describe(created)}
    text = f"created account {created.id}\n{_text(created)}"
    if generated is not None:
        data["secret"] = generated.decode("ascii")
        text += f"\n\nHMAC secret (shown once; the text itself is the key):\n{generated.decode()}"
    keycloak_error = None
    if keycloak is not None:
        line, keycloak_error = mirror(keycloak, created, data)
        text += f"\n{line}"
    ctx.out.result(data, text)
    fail_after(keycloak_error)


def _updated_validation(
    current: Validation, args: argparse.Namespace
) -> tuple[Validation, bytes | None]:
    method = args.method or method_of(current)
    if method != method_of(current):
        # A new method needs all of its material: build it as `create` would.
        if not args.alg:
            raise AccountInvalid(f"switching to --method {method} needs --alg")
        args.method = method
        return _validation(args)
    algs = tuple(args.alg) if args.alg else current.algorithms
    foreign = {
        "public_key": ("secret_file", "new_secret", "jwks_uri"),
        "symmetric": ("pem", "jwks_uri"),
        "jwks": ("pem", "secret_file", "new_secret"),
    }[method]
    for option in foreign:
        if getattr(args, option):
            flag = "--" + option.replace("_", "-")
            raise AccountInvalid(f"{flag} does not apply to a {method} account")
    if isinstance(current, PublicKeyValidation):
        pem = _read_file(args.pem, "PEM").decode("utf-8", "replace") if args.pem else None
        return PublicKeyValidation(
            algorithms=algs, public_key_pem=pem or current.public_key_pem
        ), None
    if isinstance(current, SymmetricValidation):
        generated = _generated_secret() if args.new_secret else None
        secret = _read_secret(args.secret_file) if args.secret_file else generated
        return SymmetricValidation(algorithms=algs, secret=secret or current.secret), generated
    return JwksValidation(algorithms=algs, jwks_uri=args.jwks_uri or current.jwks_uri), None


#: What ``accounts update`` receives that is not a change to make.
_NOT_CHANGES = frozenset({"id", "json", "handler", "command", "subcommand"})


def _changes_given(args: argparse.Namespace) -> bool:
    # A value other than the option's own default was given (`--no-require-exp` gives
    # False, which is a change: comparing with None/False alone missed it).
    defaults: dict[str, object] = args._defaults
    return any(
        value != defaults.get(name)
        for name, value in vars(args).items()
        if name in defaults and name not in _NOT_CHANGES and not name.startswith("_")
    )


def _update(ctx: Context, args: argparse.Namespace) -> None:
    if not _changes_given(args):
        raise UsageError(
            f"nothing to update for {args.id!r}: give at least one of {', '.join(args._options)}"
        )
    keycloak = provisioner(ctx) if args.keycloak else None
    store = AccountStore(ctx.vault())
    current, version = store.get_versioned(args.id)
    validation, generated = _updated_validation(current.validation, args)
    policy = current.policy
    if args.max_lifetime is not None:
        policy = msgspec.structs.replace(policy, max_lifetime=args.max_lifetime or None)
    if args.leeway is not None:
        policy = msgspec.structs.replace(policy, leeway=args.leeway)
    if args.require_exp is not None:
        policy = msgspec.structs.replace(policy, require_exp=args.require_exp)
    if args.jwt_bearer is not None:
        policy = msgspec.structs.replace(policy, jwt_bearer=args.jwt_bearer)
    issuer = current.issuer
    if args.issuer is not None:
        issuer = args.issuer or None  # --issuer '' removes the requirement
    encryption = current.customer_encryption
    if args.no_customer_enc:
        encryption = None
    elif args.customer_enc_key_file or args.customer_enc_alg or args.customer_enc_enc:
        encryption = _customer_encryption(args)
    status = "active" if args.enable else current.status
    updated = store.update(
        msgspec.structs.replace(
            current,
            validation=validation,
            policy=policy,
            issuer=issuer,
            customer_encryption=encryption,
            status=status,
            rate_limits=_rate_limits(args, current.rate_limits),
        ),
        # Check-and-set against what the change was built from: a concurrent change
        # (another operator's disable, say) makes this fail rather than be undone.
        expected=version,
    )
    data: dict[str, Any] = {"account": describe(updated)}
    when = _announce(ctx, updated.id, data)
    text = f"updated account {updated.id} ({when})\n{_text(updated)}"
    if generated is not None:
        data["secret"] = generated.decode("ascii")
        text += (
            "\n\nNew HMAC secret (shown once; tokens signed with the old one are refused "
            f"once the change takes effect, as above):\n{generated.decode()}"
        )
    keycloak_error = None
    if keycloak is not None:
        line, keycloak_error = mirror(keycloak, updated, data)
        text += f"\n{line}"
    ctx.out.result(data, text)
    fail_after(keycloak_error)


def _show(ctx: Context, args: argparse.Namespace) -> None:
    account = AccountStore(ctx.vault()).get(args.id)
    data, text = {"account": describe(account)}, _text(account)
    if args.keycloak:  # drift between Vault's document and the realm's client
        inspection = provisioner(ctx).inspect(account)
        data["keycloak"] = inspection_data(inspection)
        text += f"\n{inspection_text(inspection)}"
    ctx.out.result(data, text)


def _list(ctx: Context, args: argparse.Namespace) -> None:
    ids = AccountStore(ctx.vault()).list()
    ctx.out.result({"accounts": ids}, "\n".join(ids) if ids else "(no accounts)")


def _announce(ctx: Context, account_id: str, data: dict[str, Any]) -> str:
    """Tell the API processes at once (``REDIS_URL``), after the Vault write; returns when
    the change takes effect, in words, and puts it in ``data["takes_effect"]``."""
    settings = ctx.vault().settings
    # An expired entry is still served while it is refreshed, for up to the verification
    # deadline past the TTL (shared/tokens/cache.py): that is the bound without Redis.
    bound = settings.cache_ttl + settings.verification_deadline
    ttl = f"within {bound:g} s (the cache TTL and its refresh window)"
    fallback = f"{ttl} on instances without REDIS_URL"
    if not settings.redis_url:
        data["takes_effect"] = {"listeners": None, "fallback_seconds": bound}
        return f"takes effect {ttl} (REDIS_URL is not set here: no API process was told at once)"
    try:
        listeners: int | None = publish_account_changed(settings.redis_url, account_id)
    except (redis.RedisError, ConfigurationError) as exc:
        # ConfigurationError: a REDIS_URL that is not one (no scheme). The Vault write is
        # done: say so and how it falls back, never a traceback that reads as a failure.
        listeners = None
        told = f"Redis could not be told ({type(exc).__name__}): takes effect {ttl}"
    else:
        if listeners:
            told = f"takes effect at once on the {listeners} API process(es) listening on "
            told += f"REDIS_URL; {fallback}"
        else:
            told = f"no API process listens on REDIS_URL: takes effect {ttl}"
    data["takes_effect"] = {"listeners": listeners, "fallback_seconds": bound}
    return told


def _disable(ctx: Context, args: argparse.Namespace) -> None:
    keycloak = provisioner(ctx) if args.keycloak else None
    account = AccountStore(ctx.vault()).disable(args.id)
    data: dict[str, Any] = {"account": describe(account)}
    when = _announce(ctx, account.id, data)
    text = f"disabled account {account.id}: its tokens and bearers are refused; {when}"
    keycloak_error = None
    if keycloak is not None:
        line, keycloak_error = mirror(keycloak, account, data)
        text += f"\n{line}"
    ctx.out.result(data, text)
    fail_after(keycloak_error)


#: TokenPolicy.leeway's bound (shared.accounts.document), checked here to say it our way.
_MAX_LEEWAY = 3600
_LEEWAY_HELP = f"clock leeway, seconds, 0 to {_MAX_LEEWAY}"


def _leeway(value: str) -> int:
    # Our wording, before the document's validation would answer in msgspec's.
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {value!r}") from None
    if not 0 <= seconds <= _MAX_LEEWAY:
        raise argparse.ArgumentTypeError(
            f"the leeway is 0 to {_MAX_LEEWAY} seconds (how late a clock may be), got {seconds}"
        )
    return seconds


def _lifetime(floor: int) -> Callable[[str], int]:
    """``--max-lifetime``'s parser: above ``floor`` (0 is allowed on update: no cap)."""

    def parse(value: str) -> int:
        try:
            seconds = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number of seconds: {value!r}") from None
        if seconds <= floor:
            least = "0 (no cap) or more" if floor < 0 else "1 or more"
            raise argparse.ArgumentTypeError(
                f"the maximum lifetime is {least} seconds, got {seconds}"
            )
        return seconds

    return parse


def _policy_options(create: argparse.ArgumentParser) -> None:
    """``accounts create``'s token policy options."""
    create.add_argument("--leeway", type=_leeway, default=60, help=_LEEWAY_HELP + " (60)")
    create.add_argument("--require-exp", action="store_true", help="refuse tokens without exp")
    create.add_argument(
        "--max-lifetime", type=_lifetime(0), metavar="SECONDS", help="cap exp - iat"
    )
    create.add_argument(
        "--jwt-bearer", choices=JWT_BEARER_POLICIES, default="allowed", help=_JWT_BEARER_HELP
    )


def register(  # noqa: PLR0915 - flat on purpose: each subcommand's options read in one place
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``accounts`` and its subcommands."""
    accounts = sub.add_parser("accounts", help="customer accounts", parents=[common])
    cmds = accounts.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    create = cmds.add_parser(
        "create",
        parents=[common],
        help="create an account and its encryption key",
        description="Create an account with exactly one validation method, and its Transit "
        "key for JWEs. --method symmetric without --secret-file generates a secret and "
        "prints it once.",
    )
    create.add_argument("id", help="account id: [a-z0-9][a-z0-9_-]{0,62}")
    create.add_argument("--method", required=True, choices=["public_key", "symmetric", "jwks"])
    create.add_argument(
        "--alg",
        action="append",
        required=True,
        metavar="ALG",
        help="an allowed signature algorithm (repeatable): RS*/ES* for public_key and jwks, "
        "HS* for symmetric",
    )
    create.add_argument("--pem", metavar="FILE", help="customer's public key (public_key)")
    create.add_argument("--secret-file", metavar="FILE", help="raw HMAC secret bytes (symmetric)")
    create.add_argument("--jwks-uri", metavar="URL", help="customer's JWKS endpoint (jwks)")
    create.add_argument("--issuer", metavar="ISS", help="require this 'iss' in tokens")
    create.add_argument("--customer-enc-key-file", metavar="FILE", help="raw key bytes")
    create.add_argument("--customer-enc-alg", choices=CUSTOMER_JWE_ALGS)
    create.add_argument("--customer-enc-enc", choices=CUSTOMER_JWE_ENCS)
    _policy_options(create)
    create.add_argument(
        "--key-type",
        choices=TRANSIT_KEY_TYPES,
        default="rsa-2048",
        help="the RSA size of the account's Transit key, which seals its JWEs (rsa-2048); "
        "it cannot change later",
    )
    _add_rate_limit_options(create)
    create.add_argument("--keycloak", action="store_true", help=_KEYCLOAK_HELP)
    create.set_defaults(handler=_create)

    update = cmds.add_parser(
        "update",
        parents=[common],
        help="change an account's method, algorithms, key material, issuer or policy",
        description="Change only what is given; the rest stays. Writes with check-and-set: "
        "if someone changed the account meanwhile, nothing is written (re-run). With "
        "REDIS_URL set, the API processes listening on it are told at once; the others "
        "pick the change up within their cache TTL (30 s). Switching --method needs the new "
        "method's material and --alg. The key type cannot change.",
    )
    update.add_argument("id", help="account id")
    update.add_argument("--method", choices=["public_key", "symmetric", "jwks"])
    update.add_argument(
        "--alg", action="append", metavar="ALG", help="replace the allowed algorithms (repeatable)"
    )
    update.add_argument("--pem", metavar="FILE", help="new public key (public_key)")
    secret = update.add_mutually_exclusive_group()
    secret.add_argument("--secret-file", metavar="FILE", help="new raw HMAC secret (symmetric)")
    secret.add_argument(
        "--new-secret", action="store_true", help="generate a new HMAC secret, printed once"
    )
    update.add_argument("--jwks-uri", metavar="URL", help="new JWKS endpoint (jwks)")
    update.add_argument("--issuer", metavar="ISS", help="require this 'iss' ('' removes it)")
    update.add_argument("--customer-enc-key-file", metavar="FILE", help="raw key bytes")
    update.add_argument("--customer-enc-alg", choices=CUSTOMER_JWE_ALGS)
    update.add_argument("--customer-enc-enc", choices=CUSTOMER_JWE_ENCS)
    update.add_argument(
        "--no-customer-enc", action="store_true", help="remove the customer encryption key"
    )
    update.add_argument("--leeway", type=_leeway, help=_LEEWAY_HELP)
    update.add_argument(
        "--require-exp", action=argparse.BooleanOptionalAction, help="refuse tokens without exp"
    )
    update.add_argument(
        "--max-lifetime",
        type=_lifetime(-1),
        metavar="SECONDS",
        help="cap exp - iat (0 removes the cap)",
    )
    update.add_argument("--jwt-bearer", choices=JWT_BEARER_POLICIES, help=_JWT_BEARER_HELP)
    update.add_argument("--enable", action="store_true", help="re-activate a disabled account")
    _add_rate_limit_options(update)
    update.add_argument("--keycloak", action="store_true", help=_KEYCLOAK_HELP)
    # The options, for the refusal of an update that names none (read from the parser so
    # that an option added above is named too).
    options = [
        a.option_strings[0]
        for a in update._actions
        if a.option_strings and a.dest not in ("help", "json")
    ]
    defaults = {a.dest: a.default for a in update._actions if a.option_strings}
    update.set_defaults(handler=_update, _options=options, _defaults=defaults)

    show = cmds.add_parser("show", parents=[common], help="show an account (secrets hidden)")
    show.add_argument("id")
    show.add_argument(
        "--keycloak",
        action="store_true",
        help="also compare the account with its Keycloak client and report drift",
    )
    show.set_defaults(handler=_show)

    lst = cmds.add_parser("list", parents=[common], help="list account ids")
    lst.set_defaults(handler=_list)

    disable = cmds.add_parser("disable", parents=[common], help="refuse an account's tokens")
    disable.add_argument("id")
    disable.add_argument("--keycloak", action="store_true", help=_KEYCLOAK_HELP)
    disable.set_defaults(handler=_disable)
