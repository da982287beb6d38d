"""Both APIs served over real HTTP for client-side tests, an HMAC account, and tokenctl
run in-process."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from shared import Account, Settings
from shared.cli import main
from tests.support.authz import Authz, serve
from tests.support.crypto import Crypto, serve_crypto
from tests.support.tokens import KEYS, claims, sign

#: Exit codes and the output streams of one in-process tokenctl run.
CliResult = tuple[int, str, str]


class Apis:
    """A running Authorization API and a Crypto API trusting it."""

    def __init__(self, authz: Authz, crypto: Crypto) -> None:
        self.authz = authz
        self.crypto = crypto
        self.authz_url = authz.url
        self.crypto_url = crypto.url

    def args(self, account_id: str) -> list[str]:
        """The tokenctl options naming the account and both URLs."""
        return [
            "--account",
            account_id,
            "--authz-url",
            self.authz_url,
            "--crypto-url",
            self.crypto_url,
        ]


@contextmanager
def serve_apis(settings: Settings, **crypto_overrides: Any) -> Iterator[Apis]:
    """Both APIs on free ports (no rate limit on token requests)."""
    with (
        serve(settings, rate_limit_per_second=0.0) as authz,
        serve_crypto(settings, authz, **crypto_overrides) as crypto,
    ):
        yield Apis(authz, crypto)


class HmacAccount:
    """An HS256 account: the cheapest tokens to make and verify, for volume."""

    def __init__(self, account: Account, secret: bytes, key_file: Path) -> None:
        self.id = account.id
        self.secret = secret
        self.key_file = key_file

    def token(self, **extra: Any) -> str:
        """A valid secure token (campaign 1001, one hour)."""
        return sign(claims(**extra), "HS256", self.secret)


def make_hmac_account(
    make_account: Callable[..., Account], secret: bytes, folder: Path
) -> HmacAccount:
    """A symmetric HS256 account; its secret is also in a file for ``--key``."""
    account = make_account("symmetric", algorithms=("HS256",), secret=secret)
    key_file = folder / "hmac.key"
    key_file.write_bytes(secret)
    return HmacAccount(account, secret, key_file)


def in_process_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """Run tokenctl in-process; returns (exit code, stdout, stderr). The API URLs come only
    from the arguments: AUTHZ_ISSUER and CRYPTO_URL are unset."""
    monkeypatch.delenv("AUTHZ_ISSUER", raising=False)
    monkeypatch.delenv("CRYPTO_URL", raising=False)

    def run(*argv: str, stdin: str | None = None) -> CliResult:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


#: What `tokenctl accounts create` needs for an ES256 public-key account.
EC_ACCOUNT = ("--method", "public_key", "--pem", str(KEYS / "ec-p256-public.pem"), "--alg", "ES256")


def vault_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> Callable[..., CliResult]:
    """:func:`in_process_cli` with the session Vault in tokenctl's environment."""
    monkeypatch.setenv("VAULT_ADDR", settings.vault_addr)
    monkeypatch.setenv("VAULT_TOKEN", settings.vault_token or "")
    return in_process_cli(monkeypatch, capsys)
