"""``tokenctl token encrypt`` and ``tokenctl encrypt-file``: through the two APIs.

Both get a bearer from the Authorization API (``--authz-url``, default ``$AUTHZ_ISSUER``)
and encrypt with the Crypto API (``--crypto-url``, default ``$CRYPTO_URL``). With ``--key``
the bearer comes from a client assertion signed with the account's key; without, a secure
token is itself the ``jwt-bearer`` assertion (the one given, or the first accepted ones of
the file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import msgspec
from joserfc.jwk import ECKey, OctKey, RSAKey

from shared.algorithms import METHOD_ALGORITHMS
from shared.cli._context import Context
from shared.cli._encrypt_summary import summary_text
from shared.cli._progress_bar import ProgressBar
from shared.cli._signing import signing_key
from shared.client import (
    FORMATS,
    TOKEN_FIELD,
    ApiClient,
    ApiError,
    BulkOptions,
    ClientAssertionGrant,
    Grant,
    InputInvalid,
    JwtBearerGrant,
    OutputInvalid,
    RetryPolicy,
    RowSigner,
    call_with_retries,
    detect_format,
    encrypt_file,
    first_tokens,
)
from shared.tokens.compact import without_line_ending

__all__ = ["register", "register_token_encrypt"]

_SIGNING_ALGS = sorted(set(METHOD_ALGORITHMS["public_key"] + METHOD_ALGORITHMS["symmetric"]))
#: Exit code when rows remain: the API was unavailable; the same command finishes the job.
EXIT_RERUN = 3
#: An upper bound on --batch-size: the most CRYPTO_BATCH_MAX may be set to.
_MAX_BATCH = 10_000


def _usage(ctx: Context, detail: str) -> NoReturn:
    ctx.out.refuse("USAGE_ERROR", detail, exit_code=2)


def _url(ctx: Context, given: str | None, env: str, option: str) -> str:
    value = (given or os.environ.get(env, "")).strip()
    if not value:
        _usage(ctx, f"no URL for the API: pass {option} or set {env}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        _usage(ctx, f"{option} must be an http(s) URL, got {value!r}")
    return value


def _key(ctx: Context, args: argparse.Namespace) -> RSAKey | ECKey | OctKey | None:
    if bool(args.key) != bool(args.alg):
        _usage(ctx, "--key and --alg go together")
    return signing_key(args.key, args.alg) if args.key else None


def _client(ctx: Context, args: argparse.Namespace, grant: Grant) -> ApiClient:
    if not args.timeout > 0:
        _usage(ctx, "--timeout must be a positive number of seconds")
    return ApiClient(
        authz_url=_url(ctx, args.authz_url, "AUTHZ_ISSUER", "--authz-url"),
        crypto_url=_url(ctx, args.crypto_url, "CRYPTO_URL", "--crypto-url"),
        account_id=args.account,
        grant=grant,
        timeout=args.timeout,
    )


def _api_failure(ctx: Context, exc: ApiError, hint: str = "") -> NoReturn:
    """The API's code and detail, one line; exit 3 when a later retry may succeed."""
    ctx.out.refuse(exc.code, exc.detail + hint, exit_code=3 if exc.retryable else 1)


def _waiting(exc: ApiError, delay: float) -> None:
    print(f"{exc.code}: retrying in {delay:.1f} s", file=sys.stderr)


def _token_encrypt(ctx: Context, args: argparse.Namespace) -> None:
    token: str = args.token
    if token == "-":  # noqa: S105 - the stdin marker, not a secret
        token = without_line_ending(sys.stdin.read())  # echo's newline is stdin's framing
    key = _key(ctx, args)
    grant: Grant = (
        ClientAssertionGrant(key, args.alg, kid=args.kid)
        if key is not None
        else JwtBearerGrant([token])
    )
    # An interactive command: a short patience for the rate limit.
    policy = RetryPolicy(retries=args.retries, rate_limit_patience=60.0)
    with _client(ctx, args, grant) as client:
        try:
            result = call_with_retries(lambda: client.encrypt(token), policy, on_wait=_waiting)
        except ApiError as exc:
            _api_failure(ctx, exc)
    ctx.out.result({"token": result.token, "kid": result.kid}, result.token)


def _encrypt_file(ctx: Context, args: argparse.Namespace) -> None:
    if not 1 <= args.batch_size <= _MAX_BATCH:
        _usage(ctx, f"--batch-size must be between 1 and {_MAX_BATCH}")
    if not 1 <= args.concurrency <= 64:
        _usage(ctx, "--concurrency must be between 1 and 64")
    if args.retries < 0:
        _usage(ctx, "--retries must be 0 or more")
    source, out = Path(args.input), Path(args.output)
    key = _key(ctx, args)
    # A run that fails before writing a row leaves no trace: no "done" bar, no empty OUT.
    created = not out.exists()
    bar = None if args.no_progress else _OutcomeBar(sys.stderr)
    try:
        fmt = detect_format(source, args.format)
        signer: RowSigner | None = None
        grant: Grant | None = None
        if key is not None:
            signer = RowSigner(
                key,
                args.alg,
                kid=args.kid,
                expires_in=args.expires_in,
                campaign_id=args.campaign,
            )
            grant = ClientAssertionGrant(key, args.alg, kid=args.kid)
        options = BulkOptions(
            format=fmt,
            token_field=args.token_field,
            id_field=args.id_field,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            retry=RetryPolicy(retries=args.retries),
        )
        with _client(ctx, args, grant or _LazyJwtBearer(source, options)) as client:
            summary = encrypt_file(
                source,
                out,
                client,
                options=options,
                signer=signer,
                progress=bar,
            )
    except (InputInvalid, OutputInvalid) as exc:
        _abandon(bar, out, created)
        ctx.out.refuse(exc.code, exc.detail, exit_code=2)
    except ApiError as exc:
        _abandon(bar, out, created)
        hint = ""
        if key is None and exc.oauth_error == "invalid_grant":
            hint = (
                " (the bearer is exchanged for the first tokens of the file; give --key and "
                "--alg to use a client assertion instead)"
            )
        _api_failure(ctx, exc, hint)
    except BaseException:
        _abandon(bar, out, created)
        raise
    if bar is not None:
        bar.finish(complete=summary.complete)
    data = msgspec.to_builtins(summary)
    text = summary_text(summary, args.output)
    if summary.complete:
        ctx.out.result(data, text)
        return
    detail = f"{summary.not_done:,} rows not done: rerun the same command to finish"
    if ctx.out.as_json:
        print(json.dumps({"ok": False, "code": "ROWS_NOT_DONE", "detail": detail, **data}))
    else:
        print(text)
    raise SystemExit(EXIT_RERUN)


class _OutcomeBar(ProgressBar):
    """The progress bar, ended by the command once the outcome is known: ``encrypt_file``
    closes its progress before it raises, and a failed run must not end on "done"."""

    def close(self) -> None:
        """Nothing yet: :meth:`finish` ends the bar."""

    def finish(self, *, complete: bool) -> None:
        """End with the final line when every row is done, else without it."""
        if complete:
            super().close()
        else:
            self.stop()


def _abandon(bar: _OutcomeBar | None, out: Path, created: bool) -> None:
    """After a failed run: end the bar without "done", and remove OUT if this run created
    it and wrote nothing (a rerun would create it again)."""
    if bar is not None:
        bar.finish(complete=False)
    try:
        if created and out.stat().st_size == 0:
            out.unlink()
    except OSError:
        pass  # never there (refused before opening it), or not ours to remove


class _LazyJwtBearer:
    """A jwt-bearer grant from the file's first tokens, read only if a bearer is needed
    (a rerun with nothing left to do reads nothing and calls no API)."""

    def __init__(self, source: Path, options: BulkOptions) -> None:
        self._source = source
        self._options = options
        self._grant: JwtBearerGrant | None = None

    def forms(self, client_id: str, token_endpoint: str) -> Iterator[dict[str, str]]:
        """The file's first tokens, in turn."""
        if self._grant is None:
            fmt = detect_format(self._source, self._options.format)
            candidates = first_tokens(self._source, fmt, token_field=self._options.token_field)
            self._grant = JwtBearerGrant(candidates)
        return self._grant.forms(client_id, token_endpoint)


def _common(parser: argparse.ArgumentParser, *, timeout: float, retries: int) -> None:
    parser.add_argument("--account", required=True, help="the account (the bearer's client_id)")
    parser.add_argument(
        "--authz-url", metavar="URL", help="Authorization API base URL (default $AUTHZ_ISSUER)"
    )
    parser.add_argument(
        "--crypto-url", metavar="URL", help="Crypto API base URL (default $CRYPTO_URL)"
    )
    parser.add_argument(
        "--key",
        metavar="FILE",
        help="the account's private key (PEM) or HMAC secret file: the bearer then comes "
        "from a client assertion signed with it",
    )
    parser.add_argument("--alg", choices=_SIGNING_ALGS, help="the algorithm for --key")
    parser.add_argument("--kid", help="key id header for --key (JWKS accounts)")
    parser.add_argument(
        "--retries",
        type=int,
        default=retries,
        help=f"retries of a call the API could not serve ({retries}); 429s are waited out",
    )
    parser.add_argument(
        "--timeout", type=float, default=timeout, help=f"seconds per HTTP call ({timeout:g})"
    )


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``encrypt-file``."""
    cmd = sub.add_parser(
        "encrypt-file",
        parents=[common],
        help="encrypt a CSV or JSONL file of tokens (or of claims to sign) through the APIs",
        description="Encrypt every row of IN through the Crypto API's batch endpoint and write "
        "one JSON line per row to OUT: {row, [id,] token, kid} or {row, [id,] error: {code, "
        "detail}}, in completion order. A row with a 'token' field is sent as is; other rows "
        "are signed from their fields with --key/--alg (fields starting with '_' are not "
        "claims; CSV: 'a.b' nests, 'name:json' parses JSON, exp/iat/nbf are numbers). "
        "Resumable: a rerun skips the rows OUT holds. Rows the API could not serve are not "
        f"written; the command then exits {EXIT_RERUN}: rerun it to finish.",
    )
    cmd.add_argument("input", metavar="IN", help="a .csv (with a header row) or .jsonl file")
    cmd.add_argument("output", metavar="OUT", help="the JSONL results (created, or resumed)")
    _common(cmd, timeout=60.0, retries=5)
    cmd.add_argument(
        "--format", choices=sorted(set(FORMATS.values())), help="IN's format (default: by name)"
    )
    cmd.add_argument(
        "--token-field",
        default=TOKEN_FIELD,
        metavar="NAME",
        help=f"the field holding a row's token ({TOKEN_FIELD})",
    )
    cmd.add_argument("--id-field", metavar="NAME", help="a field copied to the output as 'id'")
    cmd.add_argument(
        "--expires-in", type=int, metavar="SECONDS", help="signed rows without exp: exp = now + S"
    )
    cmd.add_argument("--campaign", metavar="ID", help="signed rows without campaignId get this")
    cmd.add_argument(
        "--batch-size", type=int, default=500, help="tokens per call (500; the API takes 1000)"
    )
    cmd.add_argument("--concurrency", type=int, default=4, help="calls in flight (4)")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    cmd.set_defaults(handler=_encrypt_file)


def register_token_encrypt(
    cmds: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``token encrypt`` to the ``token`` command group."""
    cmd = cmds.add_parser(
        "encrypt",
        parents=[common],
        help="encrypt a JWS into a JWE through the Authorization and Crypto APIs",
        description="Exchange credentials for a bearer (with --key: a client assertion; "
        "without: the token itself as jwt-bearer assertion), then have the Crypto API verify "
        "and encrypt the token. Prints the JWE; on refusal prints the code and exits 1.",
    )
    _common(cmd, timeout=30.0, retries=2)
    cmd.add_argument("token", metavar="TOKEN", help="the JWS, or - to read stdin")
    cmd.set_defaults(handler=_token_encrypt)
