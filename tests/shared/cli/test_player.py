"""``tokenctl player show|set``: an account's player settings, through the real OpenBao."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared import Account, Settings, Vault
from shared.identity import Campaign, PlayerSecretsStore, PlayerStore, SsoSettings
from tests.support.apis import vault_cli


@pytest.fixture
def cli(
    settings: Settings,
    vault: Vault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Run tokenctl in-process with the session Vault; returns (exit code, stdout, stderr)."""
    return vault_cli(monkeypatch, capsys, settings)


@pytest.fixture
def account(make_account: Callable[..., Account]) -> str:
    """A fresh account's id."""
    return make_account().id


def test_set_then_show_round_trip(cli: Any, account: str, vault: Vault) -> None:
    """What `player set` writes is stored and `player show` prints it, as text and as JSON."""
    code, out, err = cli(
        "player", "set", account,
        "--identification", "messages",
        "--parent-origin", "https://shop.example",
        "--parent-origin", "http://localhost:8080",
        "--prefill", "profile.mail=email",
        "--profile-api", "https://api.example/me",
        "--campaign", "1001=Summer draw",
    )  # fmt: skip
    assert code == 0, err
    assert "updated player settings" in out
    stored = PlayerStore(vault).get_versioned(account)[0]
    assert stored.identification == "messages"
    assert stored.parent_origins == ("https://shop.example", "http://localhost:8080")
    assert stored.prefill == {"profile.mail": "email"}
    assert stored.profile_api == "https://api.example/me"
    assert stored.campaigns == {"1001": Campaign(title="Summer draw")}

    code, out, err = cli("player", "show", account)
    assert code == 0, err
    assert "identification  messages" in out
    assert "https://shop.example, http://localhost:8080" in out
    assert "profile.mail -> email" in out
    assert "1001  Summer draw" in out

    code, out, _ = cli("player", "show", account, "--json")
    assert code == 0
    assert json.loads(out) == {
        "ok": True,
        "account": account,
        "identification": "messages",
        "parent_origins": ["https://shop.example", "http://localhost:8080"],
        "prefill": {"profile.mail": "email"},
        "campaigns": {"1001": {"title": "Summer draw"}},
        "profile_api": "https://api.example/me",
        "message_wait": 120,
        "sso": None,
        "webhook": None,
        "secrets": [],
    }
    code, out, _ = cli("player", "set", account, "--no-profile-api", "--json")
    assert code == 0
    assert json.loads(out)["profile_api"] is None


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        ("https://*.example", "wildcards are not allowed"),
        ("http://shop.example", "must be https (http on loopback only)"),
        ("https://shop.example/path", "must be exactly scheme://host[:port]"),
    ],
)
def test_bad_parent_origins_are_refused(
    cli: Any, account: str, vault: Vault, origin: str, reason: str
) -> None:
    """A wildcard, http on a public host or a path is refused with exit 1 and its reason."""
    code, out, err = cli("player", "set", account, "--parent-origin", origin)
    assert code == 1
    assert "PLAYER_SETTINGS_INVALID" in err
    assert reason in err
    assert out == ""
    assert PlayerStore(vault).get_versioned(account)[1] == 0  # nothing written


def test_no_parent_origins_clears(cli: Any, account: str, vault: Vault) -> None:
    """--no-parent-origins empties the list set before."""
    assert cli("player", "set", account, "--parent-origin", "https://a.example")[0] == 0
    code, _, err = cli("player", "set", account, "--no-parent-origins")
    assert code == 0, err
    assert PlayerStore(vault).get_versioned(account)[0].parent_origins == ()


def test_bad_prefill_path_is_refused(cli: Any, account: str) -> None:
    """A --prefill claim path outside sub/profile/form/optin/custom is refused, named."""
    code, _, err = cli("player", "set", account, "--prefill", "secret.x=email")
    assert code == 1
    assert "PLAYER_SETTINGS_INVALID" in err
    assert "claim path 'secret.x'" in err
    code, _, err = cli("player", "set", account, "--prefill", "profile.mail")
    assert code == 1
    assert "CLAIM_PATH=FIELD" in err


def test_campaigns_are_added_retitled_and_removed(cli: Any, account: str, vault: Vault) -> None:
    """--campaign adds or retitles, --remove-campaign removes; an unknown id is refused."""
    assert cli("player", "set", account, "--campaign", "1=One", "--campaign", "2=Two")[0] == 0
    code, _, err = cli("player", "set", account, "--campaign", "1=First", "--remove-campaign", "2")
    assert code == 0, err
    assert PlayerStore(vault).get_versioned(account)[0].campaigns == {"1": Campaign(title="First")}
    code, _, err = cli("player", "set", account, "--remove-campaign", "9")
    assert code == 1
    assert "no such campaign" in err


def test_message_wait_is_set_shown_and_bounded(cli: Any, account: str, vault: Vault) -> None:
    """--message-wait sets the bounded wait of the messages channel; out of 1-900 it is
    refused with its reason and nothing is written."""
    args = ("--identification", "messages", "--message-wait", "45")
    code, out, err = cli("player", "set", account, *args)
    assert code == 0, err
    assert "message wait    45 s" in out
    assert PlayerStore(vault).get_versioned(account)[0].message_wait == 45
    code, _, err = cli("player", "set", account, "--message-wait", "0")
    assert code == 1
    assert "PLAYER_SETTINGS_INVALID" in err
    assert "message_wait" in err
    assert PlayerStore(vault).get_versioned(account)[0].message_wait == 45


def test_sso_settings_and_their_secret(
    cli: Any, account: str, vault: Vault, tmp_path: Path
) -> None:
    """--sso-… options set the client; the secret goes to player-secrets (never printed);
    without a secret, or with an http issuer off loopback, nothing is written."""
    secret = tmp_path / "client-secret"
    secret.write_text("s3cr3t-value\n")
    code, _, err = cli("player", "set", account, "--sso-client-id", "player")
    assert code == 1
    assert "sso needs an issuer (discovery) or its endpoints" in err
    code, _, err = cli(
        "player", "set", account, "--sso-client-id", "player", "--sso-issuer", "https://i.example"
    )  # fmt: skip
    assert code == 1
    assert "needs the client secret" in err
    code, _, err = cli(
        "player", "set", account, "--sso-issuer", "http://idp.example", "--sso-client-id", "p",
        "--sso-client-secret-file", str(secret),
    )  # fmt: skip
    assert code == 1
    assert "sso.issuer must be https" in err
    assert PlayerSecretsStore(vault).get_versioned(account)[1] == 0
    code, out, err = cli(
        "player", "set", account, "--identification", "sso",
        "--sso-issuer", "https://idp.example", "--sso-client-id", "player",
        "--sso-client-secret-file", str(secret), "--sso-client-auth", "client_secret_basic",
        "--sso-profile-source", "id_token", "--no-sso-pkce", "--sso-prefill", "nickname=pseudo",
    )  # fmt: skip
    assert code == 0, err
    assert "s3cr3t" not in out
    assert "client secret set" in out
    stored = PlayerStore(vault).get_versioned(account)[0]
    assert stored.identification == "sso"
    assert stored.sso == SsoSettings(
        issuer="https://idp.example",
        client_id="player",
        client_auth="client_secret_basic",
        profile_source="id_token",
        pkce=False,
        prefill={"nickname": "pseudo"},
    )
    assert PlayerSecretsStore(vault).get(account).sso_client_secret == "s3cr3t-value"
    code, out, _ = cli("player", "show", account, "--json")
    assert json.loads(out)["secrets"] == ["sso_client_secret"]
    assert "s3cr3t" not in out
    # A later change keeps the secret; --no-sso removes both.
    assert cli("player", "set", account, "--sso-scope", "openid email")[0] == 0
    assert PlayerSecretsStore(vault).get_versioned(account)[0].sso_client_secret
    code, _, err = cli("player", "set", account, "--no-sso", "--identification", "secure_token")
    assert code == 0, err
    assert PlayerStore(vault).get_versioned(account)[0].sso is None
    assert PlayerSecretsStore(vault).get_versioned(account)[0].sso_client_secret is None


def test_webhook_settings_generate_a_secret_printed_once(
    cli: Any, account: str, vault: Vault, tmp_path: Path
) -> None:
    """A new webhook gets a generated whsec_ secret, printed this once; the auth header's
    value is kept with the secrets; a malformed secret file is refused."""
    code, out, err = cli(
        "player", "set", account, "--webhook-url", "https://hooks.example/in",
        "--webhook-auth-header", "X-Api-Key: key-123", "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    generated = result["webhook_secret"]
    assert generated.startswith("whsec_")
    assert "key-123" not in out
    assert result["webhook"] == {"url": "https://hooks.example/in", "auth_header": "X-Api-Key"}
    held = PlayerSecretsStore(vault).get_versioned(account)[0]
    assert (held.webhook_secret, held.webhook_auth_value) == (generated, "key-123")
    code, out, _ = cli("player", "show", account)
    assert generated not in out
    assert "signing secret set" in out
    # Changing the URL keeps the secret (the receiver trusts it already).
    assert cli("player", "set", account, "--webhook-url", "https://hooks.example/v2")[0] == 0
    assert PlayerSecretsStore(vault).get_versioned(account)[0].webhook_secret == generated
    bad = tmp_path / "bad"
    bad.write_text("not-a-whsec")
    code, _, err = cli("player", "set", account, "--webhook-secret-file", str(bad))
    assert code == 1
    assert "whsec_" in err
    code, _, err = cli("player", "set", account, "--webhook-auth-header", "Content-Type: x")
    assert code == 1
    assert "reserved" in err
    assert cli("player", "set", account, "--no-webhook")[0] == 0
    held = PlayerSecretsStore(vault).get_versioned(account)[0]
    assert (held.webhook_secret, held.webhook_auth_value) == (None, None)


def test_unknown_account_is_refused(cli: Any) -> None:
    """show and set of an account that does not exist answer ACCOUNT_NOT_FOUND."""
    for argv in (("show",), ("set", "--campaign", "1=One")):
        verb, *rest = argv
        code, _, err = cli("player", verb, "no-such-account", *rest)
        assert code == 1
        assert "ACCOUNT_NOT_FOUND" in err


def test_set_with_nothing_is_a_usage_error(cli: Any, account: str) -> None:
    """`player set ACCOUNT` without a change option exits 2 naming the options."""
    code, _, err = cli("player", "set", account)
    assert code == 2
    assert "USAGE_ERROR" in err
    assert "--parent-origin" in err


def test_serve_player_needs_redis_url(tmp_path: Path) -> None:
    """`tokenctl serve player` without REDIS_URL exits non-zero naming REDIS_URL."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    tokenctl = str(Path(sys.executable).parent / "tokenctl")
    done = subprocess.run(
        [tokenctl, "serve", "player", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr
