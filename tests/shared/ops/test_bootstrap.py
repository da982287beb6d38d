"""`tokenctl vault bootstrap` and the player: its form keys are created once, then kept."""

from __future__ import annotations

from typing import Any

import pytest

from shared import Settings, Vault
from shared.identity import load_form_keys
from shared.ops.bootstrap import bootstrap
from tests.support.apis import vault_cli


def test_bootstrap_creates_the_player_form_keys_once(vault: Vault) -> None:
    """After bootstrap the player's form keys exist, and a second bootstrap keeps them."""
    bootstrap(vault)
    keys = load_form_keys(vault)
    report = bootstrap(vault)
    assert "player form keys" in report.present
    assert load_form_keys(vault) == keys


def test_tokenctl_vault_bootstrap_reports_the_form_keys(
    settings: Settings,
    vault: Vault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`tokenctl vault bootstrap --json` lists the form keys among what is present."""
    cli: Any = vault_cli(monkeypatch, capsys, settings)
    code, out, err = cli("vault", "bootstrap", "--json")
    assert code == 0, err
    assert "player form keys" in out
    load_form_keys(vault)
