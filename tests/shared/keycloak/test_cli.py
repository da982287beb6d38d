"""tokenctl's Keycloak side: ``accounts … --keycloak`` and ``keycloak check``, in-process,
against the stand-in realm, the session's OpenBao and the running APIs."""

from __future__ import annotations

import json
from typing import Any

import hvac
import pytest

from shared import Settings, Vault
from shared.cli import main
from tests.support.keycloak import REALM, Stack
from tests.support.openbao import free_port
from tests.support.tokens import KEYS


@pytest.fixture
def cli(
    stack: Stack,
    settings: Settings,
    vault: Vault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Run tokenctl with the session Vault and the stand-in realm; (code, stdout, stderr)."""
    environment = {
        "VAULT_ADDR": settings.vault_addr,
        "VAULT_TOKEN": settings.vault_token or "",
        "KEYCLOAK_URL": stack.kc.url,
        "KEYCLOAK_REALM": REALM,
        "KEYCLOAK_ADMIN_USERNAME": stack.kc.admin[0],
        "KEYCLOAK_ADMIN_PASSWORD": stack.kc.admin[1],
        "AUTHZ_ISSUER": stack.authz.url,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def as_json(output: str) -> dict[str, Any]:
    return dict(json.loads(output.strip().splitlines()[-1]))


def test_create_show_update_disable(cli: Any, stack: Stack, account_id: str) -> None:
    """create --keycloak mirrors the account (its printed secret is the client's);
    show --keycloak reports drift; update --keycloak repairs it; disable --keycloak
    disables the client."""
    code, out, err = cli("accounts", "create", account_id, "--method", "symmetric",
                         "--alg", "HS256", "--keycloak", "--json")  # fmt: skip
    assert code == 0, err
    created = as_json(out)
    assert created["keycloak"]["ok"] is True
    assert "created the client" in created["keycloak"]["actions"]
    client = stack.kc.realms[REALM].client_by_client_id(account_id)
    assert client is not None
    assert client["secret"] == created["secret"]

    code, out, _ = cli("accounts", "show", account_id, "--keycloak", "--json")
    assert code == 0
    assert as_json(out)["keycloak"] == {"exists": True, "in_sync": True, "drift": []}

    client["attributes"]["token.endpoint.auth.signing.alg"] = "HS512"
    code, out, _ = cli("accounts", "show", account_id, "--keycloak")
    assert code == 0
    assert "keycloak    DRIFT" in out
    assert "token.endpoint.auth.signing.alg" in out

    code, out, _ = cli("accounts", "update", account_id, "--keycloak", "--json")
    assert code == 0
    assert as_json(out)["keycloak"]["actions"] == [
        "updated attribute token.endpoint.auth.signing.alg"
    ]
    assert client["attributes"]["token.endpoint.auth.signing.alg"] == "HS256"

    code, out, _ = cli("accounts", "disable", account_id, "--keycloak")
    assert code == 0
    assert "Keycloak: " in out
    assert client["enabled"] is False


def test_a_keycloak_outage_never_loses_a_new_secret(
    cli: Any, account_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Keycloak is down, create still prints the account and its one-time secret,
    says the mirroring failed and how to redo it, and exits non-zero."""
    monkeypatch.setenv("KEYCLOAK_URL", f"http://127.0.0.1:{free_port()}")
    code, out, _ = cli("accounts", "create", account_id, "--method", "symmetric",
                       "--alg", "HS256", "--keycloak", "--json")  # fmt: skip
    assert code == 1
    result = as_json(out)
    assert result["secret"]
    assert result["account"]["id"] == account_id
    assert result["keycloak"] == {
        "ok": False,
        "code": "KEYCLOAK_UNAVAILABLE",
        "detail": "find the broker: Keycloak cannot be reached",
    }


def test_admin_credentials_from_vault(
    cli: Any, stack: Stack, vault: Vault, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    account_id: str,
) -> None:  # fmt: skip
    """Without KEYCLOAK_ADMIN_* the admin login is read from Vault (keycloak/admin); with
    neither, tokenctl says what to set (exit 4)."""
    monkeypatch.delenv("KEYCLOAK_ADMIN_USERNAME")
    monkeypatch.delenv("KEYCLOAK_ADMIN_PASSWORD")
    pem = str(KEYS / "ec-p256-public.pem")
    args = ("accounts", "create", account_id, "--method", "public_key", "--pem", pem,
            "--alg", "ES256", "--keycloak")  # fmt: skip
    code, _, err = cli(*args)
    assert code == 4
    assert "KEYCLOAK_ADMIN_USERNAME" in err
    code, _, err = cli("accounts", "show", account_id)
    assert code == 1, "nothing was written to Vault"
    vault.kv_write("keycloak/admin", {"username": "admin", "password": stack.kc.admin[1]})
    try:
        code, out, err = cli(*args)
        assert code == 0, err
        assert "Keycloak: " in out
        assert stack.kc.realms[REALM].client_by_client_id(account_id) is not None
    finally:
        kv = hvac.Client(url=settings.vault_addr, token=settings.vault_token).secrets.kv.v2
        kv.delete_metadata_and_all_versions("keycloak/admin", mount_point=settings.kv_mount)


def test_keycloak_check_exercises_the_whole_path(cli: Any, stack: Stack) -> None:
    """keycloak check provisions its account, gets bearers through both grants, encrypts
    with each, and says each step worked; a second run works the same."""
    for _ in range(2):
        code, out, err = cli("keycloak", "check", "--crypto-url", stack.crypto.url, "--json")
        assert code == 0, out + err
        steps = as_json(out)["steps"]
        assert [s["ok"] for s in steps] == [True] * 8, steps
    client = stack.kc.realms[REALM].client_by_client_id("keycloak-check")
    assert client is not None
    assert client["enabled"] is True


def test_keycloak_check_reports_what_fails(
    cli: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the Crypto API unreachable, the encryptions fail, the rest passes, and the
    command exits 1 listing each step."""
    code, out, _ = cli("keycloak", "check", "--crypto-url", f"http://127.0.0.1:{free_port()}")
    assert code == 1, out
    assert "ok    secure token exchanged (jwt-bearer, broker)" in out
    assert "FAIL  encrypt with the jwt-bearer bearer" in out
