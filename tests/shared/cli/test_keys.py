"""tokenctl keys schedule and keys retire --safe, against the real OpenBao of the session."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared import Settings, Vault
from tests.support.apis import EC_ACCOUNT, in_process_cli, vault_cli
from tests.support.openbao import free_port


@pytest.fixture
def cli(
    settings: Settings,
    vault: Vault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """tokenctl in-process with the session Vault; returns (exit code, stdout, stderr)."""
    return vault_cli(monkeypatch, capsys, settings)


def run_json(cli: Any, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(*argv, "--json")
    return code, json.loads(out)


def create(cli: Any, account_id: str, *extra: str) -> None:
    code, _, err = cli("accounts", "create", account_id, *EC_ACCOUNT, *extra)
    assert code == 0, err


def test_schedule_sets_shows_and_clears_the_rotation_period(cli: Any, account_id: str) -> None:
    """`keys schedule --every 30d` sets Transit's period, `keys list` shows it (text and
    JSON), and `--every 0` or `off` clears it."""
    create(cli, account_id)
    code, data = run_json(cli, "keys", "schedule", account_id, "--every", "30d")
    assert (code, data["auto_rotate_period"]) == (0, 2_592_000)
    code, data = run_json(cli, "keys", "list", account_id)
    assert (code, data["auto_rotate_period"]) == (0, 2_592_000)
    code, out, _ = cli("keys", "list", account_id)
    assert "Vault rotates every 30d" in out
    created = datetime.fromisoformat(data["versions"][0]["created_at"])
    due = (created + timedelta(days=30)).isoformat(timespec="seconds")
    assert f"next about {due}" in out
    for off in ("0", "off"):
        assert cli("keys", "schedule", account_id, "--every", "1h")[0] == 0
        code, out, _ = cli("keys", "schedule", account_id, "--every", off)
        assert code == 0
        assert "by hand only" in out
        assert run_json(cli, "keys", "list", account_id)[1]["auto_rotate_period"] == 0


@pytest.mark.parametrize(
    ("every", "exit_code", "code", "says"),
    [
        ("abc", 2, "USAGE_ERROR", "such as 30d"),
        ("-1h", 2, "USAGE_ERROR", "such as 30d"),
        ("30m", 1, "KEY_OPERATION_REFUSED", "from 3600 s (1h)"),
        ("3599", 1, "KEY_OPERATION_REFUSED", "got 3599 s"),
        ("36500d1s", 1, "KEY_OPERATION_REFUSED", "100 years"),
    ],
    ids=["word", "negative", "under-an-hour", "a-second-short", "over-a-century"],
)
def test_schedule_refuses_bad_periods_clearly(
    cli: Any, account_id: str, every: str, exit_code: int, code: str, says: str
) -> None:
    """A malformed period is a usage error (2); one Transit would refuse is refused here
    first (1) with the allowed range; the schedule is left as it was."""
    create(cli, account_id)
    got, data = run_json(cli, "keys", "schedule", account_id, f"--every={every}")
    assert (got, data["code"]) == (exit_code, code)
    assert says in data["detail"]
    assert run_json(cli, "keys", "list", account_id)[1]["auto_rotate_period"] == 0


def test_schedule_of_an_unknown_account_names_it(cli: Any) -> None:
    """`keys schedule nobody` is ACCOUNT_NOT_FOUND for the account, not a Vault 404."""
    code, data = run_json(cli, "keys", "schedule", "nobody", "--every", "30d")
    assert (code, data["code"]) == (1, "ACCOUNT_NOT_FOUND")
    assert "no account 'nobody'" in data["detail"]


@pytest.mark.parametrize(
    ("options", "says"),
    [((), "does not require 'exp'"), (("--require-exp",), "no maximum lifetime")],
    ids=["no-exp-required", "no-max-lifetime"],
)
def test_retire_safe_without_a_bound_refuses_and_explains(
    cli: Any, account_id: str, options: tuple[str, ...], says: str
) -> None:
    """Without require_exp and max_lifetime nothing is provably unneeded: exit 1 with the
    reason and the way out, one line in text mode; nothing is retired."""
    create(cli, account_id, *options)
    cli("keys", "rotate", account_id)
    code, data = run_json(cli, "keys", "retire", account_id, "--safe")
    assert (code, data["code"]) == (1, "KEY_OPERATION_REFUSED")
    assert says in data["detail"]
    assert f"accounts update {account_id} --require-exp --max-lifetime" in data["detail"]
    code, out, err = cli("keys", "retire", account_id, "--safe")
    assert (code, out) == (1, "")
    assert err.startswith("error: KEY_OPERATION_REFUSED: ")
    assert len(err.strip().splitlines()) == 1
    assert run_json(cli, "keys", "list", account_id)[1]["min_decryption_version"] == 1


def test_retire_safe_end_to_end_with_a_two_second_bound(cli: Any, account_id: str) -> None:
    """Bound 2 s, leeway 0, no sealing lag: 2 s after version 2 appeared, --safe
    retires version 1 and keeps version 2 (its successor is brand new), says why, and a
    second run retires nothing more."""
    create(cli, account_id, "--require-exp", "--max-lifetime", "2", "--leeway", "0")
    cli("keys", "rotate", account_id)
    # Version 2 must be older than the 2 s horizon (Vault's clock is real), and version 3
    # younger when --safe runs: 2 s of margin for a loaded machine.
    time.sleep(2.1)
    cli("keys", "rotate", account_id)
    code, data = run_json(cli, "keys", "retire", account_id, "--safe", "--sealing-lag", "0")
    assert code == 0
    assert data["retired_now"] == [1]
    assert data["min_decryption_version"] == 2
    assert data["safe"]["horizon"] == 2
    assert [(v["version"], v["retire"]) for v in data["safe"]["verdicts"]] == [
        (1, True),
        (2, False),
    ]
    assert [v["status"] for v in data["versions"]] == ["encrypt", "decrypt", "retired"]
    code, out, _ = cli("keys", "retire", account_id, "--safe", "--sealing-lag", "0")
    assert code == 0
    assert "nothing to retire" in out
    assert "version 2: kept" in out
    assert "Not covered: tokens sealed without the Crypto API" in out


def test_retire_safe_counts_the_crypto_apis_cache_by_default(cli: Any, account_id: str) -> None:
    """Without --sealing-lag the lag is the cache TTL plus stale-if-error (3630 s): a fresh
    rotation retires nothing, and the text says how long the lag is."""
    create(cli, account_id, "--require-exp", "--max-lifetime", "1", "--leeway", "0")
    cli("keys", "rotate", account_id)
    code, data = run_json(cli, "keys", "retire", account_id, "--safe")
    assert (code, data["retired_now"], data["safe"]["sealing_lag"]) == (0, [], 3630.0)
    assert data["safe"]["verdicts"][0]["unneeded_from"] is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["--safe", "--below", "2"],
        ["--below", "2", "--sealing-lag", "0", "--yes"],
        ["--safe", "--sealing-lag", "-1"],
        ["--safe", "--sealing-lag", "nan"],
        [],
    ],
    ids=["safe-and-below", "lag-without-safe", "negative-lag", "nan-lag", "neither"],
)
def test_retire_option_mistakes_are_usage_errors(
    cli: Any, account_id: str, argv: list[str]
) -> None:
    """--safe and --below exclude each other, one is needed, --sealing-lag is a number of
    seconds and only goes with --safe: exit 2, nothing retired."""
    create(cli, account_id, "--require-exp", "--max-lifetime", "1")
    cli("keys", "rotate", account_id)
    code, _, err = cli("keys", "retire", account_id, *argv)
    assert code == 2, err
    assert run_json(cli, "keys", "list", account_id)[1]["min_decryption_version"] == 1


def test_retire_safe_with_vault_unreachable_is_retryable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Vault down: --safe decides nothing and exits 3 (retry later), one line."""
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("VAULT_TOKEN", "t")
    monkeypatch.setenv("VAULT_CLIENT_TIMEOUT", "1")
    run = in_process_cli(monkeypatch, capsys)
    started = time.monotonic()
    code, data = run_json(run, "keys", "retire", "acme", "--safe")
    assert (code, data["code"]) == (3, "VAULT_UNAVAILABLE")
    assert time.monotonic() - started < 5
