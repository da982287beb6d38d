"""``tokenctl accounts`` and an account's own rate limits: set, shown, changed, removed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import AccountStore, Settings, Vault
from shared.accounts.document import RateLimit, RateLimits
from tests.support.apis import EC_ACCOUNT, vault_cli


@pytest.fixture
def cli(
    settings: Settings,
    vault: Vault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Run tokenctl in-process with the session Vault; returns (exit code, stdout, stderr)."""
    return vault_cli(monkeypatch, capsys, settings)


def run_json(cli: Any, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(*argv, "--json")
    return code, json.loads(out)


def test_rate_limits_are_set_shown_changed_and_removed(
    cli: Any, account_id: str, vault: Vault
) -> None:
    """--rate-limit and --batch-rate-limit land in the account document (burst by default
    twice the rate), `accounts show` displays them, update changes only the one given, and
    'default' hands the account back to the environment's defaults."""
    code, _, err = cli(
        "accounts", "create", account_id, *EC_ACCOUNT, "--batch-rate-limit", "20000:40000"
    )
    assert code == 0, err
    stored = AccountStore(vault).get(account_id).rate_limits
    assert stored == RateLimits(batch=RateLimit(per_second=20000.0, burst=40000))
    code, out, _ = cli("accounts", "show", account_id)
    assert code == 0
    assert "rate limit  default (CRYPTO_RATE_LIMIT_*); batch 20000 tokens/s, burst 40000" in out

    code, data = run_json(cli, "accounts", "update", account_id, "--rate-limit", "50")
    assert code == 0, data
    assert data["account"]["rate_limits"] == {
        "single": {"per_second": 50.0, "burst": 100},
        "batch": {"per_second": 20000.0, "burst": 40000},
    }
    code, out, _ = cli("accounts", "update", account_id, "--batch-rate-limit", "default")
    assert code == 0
    assert "rate limit  50 calls/s, burst 100; batch default (CRYPTO_BATCH_RATE_LIMIT_*)" in out
    assert AccountStore(vault).get(account_id).rate_limits == RateLimits(
        single=RateLimit(per_second=50.0, burst=100)
    )


@pytest.mark.parametrize(
    "value",
    ["fast", "10:many", "-1", "inf", "nan", "10:0", "2000000"],
    ids=["word", "burst-word", "negative", "infinite", "nan", "zero-burst", "too-high"],
)
def test_bad_rate_limits_are_refused_with_the_reason(cli: Any, account_id: str, value: str) -> None:
    """A rate limit that is not PER_SECOND[:BURST] within bounds exits 1 with
    ACCOUNT_INVALID naming the option, and writes nothing."""
    code, data = run_json(cli, "accounts", "create", account_id, *EC_ACCOUNT, "--rate-limit", value)
    assert (code, data["code"]) == (1, "ACCOUNT_INVALID")
    assert "--rate-limit" in data["detail"]
    assert cli("accounts", "show", account_id)[0] != 0
