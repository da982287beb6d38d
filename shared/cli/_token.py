"""``tokenctl token …``: sign a test token, seal a JWS, inspect one unverified, verify like
the player does."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from typing import Any

from joserfc import jws

from shared.accounts.keys import KeyStore
from shared.accounts.store import AccountStore
from shared.algorithms import METHOD_ALGORITHMS
from shared.cli import _encrypt
from shared.cli._context import Context
from shared.cli._output import UsageError
from shared.cli._signing import signing_key
from shared.errors import AccountNotFound
from shared.tokens.compact import parse_compact, without_line_ending
from shared.tokens.sealing import seal
from shared.tokens.verification import Verifier

__all__ = ["register"]

_SIGNING_ALGS = sorted(set(METHOD_ALGORITHMS["public_key"] + METHOD_ALGORITHMS["symmetric"]))


def _token_arg(value: str) -> str:
    # `echo TOKEN | tokenctl ... -`: the line ending is stdin's framing, not the token's.
    return without_line_ending(sys.stdin.read()) if value == "-" else value


def _no_constant(name: str) -> Any:
    raise UsageError(f"--claims holds {name}: JSON has no such number, and verifiers refuse it")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: Python reads it as inf, written back as Infinity
        raise UsageError(f"--claims holds {text}, a number too large to be a claim")
    return value


def _claims(text: str) -> dict[str, Any]:
    """``--claims`` as a JSON object of finite numbers (the verifier refuses the others)."""
    try:
        claims: Any = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except ValueError as exc:
        raise UsageError(f"--claims is not JSON: {exc}") from None
    if not isinstance(claims, dict):
        raise UsageError("--claims must be a JSON object")
    return claims


def _sign(ctx: Context, args: argparse.Namespace) -> None:
    claims = _claims(args.claims)
    if args.expires_in is not None:
        now = int(time.time())
        claims.setdefault("iat", now)
        claims["exp"] = now + args.expires_in
    header = {"alg": args.alg, "typ": "JWT"}
    if args.kid:
        header["kid"] = args.kid
    key = signing_key(args.key, args.alg)
    try:
        payload = json.dumps(claims, allow_nan=False)
        token = jws.serialize_compact(header, payload, key, algorithms=[args.alg])
    except Exception as exc:
        raise UsageError(f"cannot sign {args.alg} with this key: {exc}") from exc
    ctx.out.result({"token": token}, token)


def _seal(ctx: Context, args: argparse.Namespace) -> None:
    vault = ctx.vault()
    account = AccountStore(vault).get(args.account)
    if not account.active:
        raise AccountNotFound(f"account {account.id!r} is disabled")
    key = KeyStore(vault).get(account.id).latest
    jwe = seal(_token_arg(args.token), key)
    ctx.out.result({"token": jwe, "kid": key.kid}, jwe)


def _verify(ctx: Context, args: argparse.Namespace) -> None:
    verifier = Verifier(ctx.vault())
    result = verifier.verify(
        _token_arg(args.token), account_id=args.account, campaign_id=args.campaign
    )
    data = {
        "sub": result.subject,
        "campaignId": result.campaign_id,
        "claims": result.claims,
        "encrypted": result.encrypted,
        "key_version": result.key_version,
        "alg": result.algorithm,
    }
    how = f"JWE (key version {result.key_version})" if result.encrypted else "JWS"
    if result.encrypted and result.key_version is None:
        how = "JWE (customer key)"
    text = f"valid {how} {result.algorithm}: sub={result.subject} campaignId={result.campaign_id}"
    ctx.out.result(data, text + "\n" + json.dumps(result.claims, indent=2))


def _when(value: object, now: float) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "not a number"
    try:
        moment = datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return "out of range"
    delta = int(value - now)
    relative = f"in {_span(delta)}" if delta >= 0 else f"{_span(-delta)} ago"
    return f"{moment} ({relative})"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _inspect(ctx: Context, args: argparse.Namespace) -> None:
    # The format gate is the verifier's own: a token it refuses is named here the same way.
    parsed = parse_compact(_token_arg(args.token))
    kind = "JWE" if parsed.is_jwe else "JWS"
    data: dict[str, Any] = {"verified": False, "kind": kind, "header": parsed.header}
    lines = [
        f"UNVERIFIED {kind}: decoded only; nothing here is checked or trustworthy "
        "(use `tokenctl token verify`)",
        "header " + json.dumps(parsed.header, indent=2),
    ]
    if parsed.payload is None:
        kid = parsed.header.get("kid")
        if isinstance(kid, str) and "/" in kid:
            account, _, version = kid.partition("/")
            data["sealed_for"] = {"account": account, "key_version": version}
            lines.append(f"sealed for account {account!r}, key version {version} (per its kid)")
        lines.append("claims are encrypted: only the player (transit/decrypt) can read them")
    else:
        data["claims"] = parsed.payload
        lines.append("claims " + json.dumps(parsed.payload, indent=2))
        now = time.time()
        for claim in ("iat", "nbf", "exp"):
            if claim in parsed.payload:
                lines.append(f"{claim:<4} {_when(parsed.payload[claim], now)}")
    ctx.out.result(data, "\n".join(lines))


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``token`` and its subcommands."""
    token = sub.add_parser("token", help="sign, seal and verify secure tokens", parents=[common])
    cmds = token.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    sign = cmds.add_parser(
        "sign",
        parents=[common],
        help="make a secure token (JWS) for tests",
        description="Sign CLAIMS with a private key (PEM, for RS*/ES*) or a raw secret file "
        "(HS*). Prints the compact JWS.",
    )
    sign.add_argument("--key", required=True, metavar="FILE")
    sign.add_argument("--alg", required=True, choices=_SIGNING_ALGS)
    sign.add_argument("--kid", help="key id header (needed by JWKS accounts)")
    sign.add_argument("--claims", required=True, metavar="JSON", help="claims as a JSON object")
    sign.add_argument(
        "--expires-in", type=int, metavar="SECONDS", help="set exp (and iat if absent) from now"
    )
    sign.set_defaults(handler=_sign)

    seal_cmd = cmds.add_parser(
        "seal",
        parents=[common],
        help="encrypt a JWS into a JWE for an account",
        description="Encrypt locally with the account's latest public key (RSA-OAEP-256 + "
        "A256GCM). Only the form of the JWS is checked, not its signature.",
    )
    seal_cmd.add_argument("--account", required=True)
    seal_cmd.add_argument("token", metavar="TOKEN", help="the JWS, or - to read stdin")
    seal_cmd.set_defaults(handler=_seal)

    verify = cmds.add_parser(
        "verify",
        parents=[common],
        help="check a token as the campaign player does",
        description="Decrypt (if a JWE), verify the signature with the account's method and "
        "check the claims. On failure prints the error code and exits non-zero.",
    )
    verify.add_argument("--account", required=True)
    verify.add_argument("--campaign", required=True, help="the campaign id the token is for")
    verify.add_argument("token", metavar="TOKEN", help="the JWS or JWE, or - to read stdin")
    verify.set_defaults(handler=_verify)

    inspect = cmds.add_parser(
        "inspect",
        parents=[common],
        help="decode a token's header and claims WITHOUT verifying it",
        description="Show the header and (for a JWS) the claims, with iat/nbf/exp as dates. "
        "Nothing is verified: the output is labelled UNVERIFIED. A token the verifier "
        "would refuse for its form fails here with the same code.",
    )
    inspect.add_argument("token", metavar="TOKEN", help="the JWS or JWE, or - to read stdin")
    inspect.set_defaults(handler=_inspect)

    _encrypt.register_token_encrypt(cmds, common)
