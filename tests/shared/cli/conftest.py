"""Fixtures shared by the tokenctl tests that go through the APIs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shared import Account
from tests.support.apis import CliResult, HmacAccount, in_process_cli, make_hmac_account

Cli = Callable[..., CliResult]


@pytest.fixture
def hmac_account(
    make_account: Callable[..., Account], hmac_secret: bytes, tmp_path: Path
) -> HmacAccount:
    return make_hmac_account(make_account, hmac_secret, tmp_path)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return in_process_cli(monkeypatch, capsys)
