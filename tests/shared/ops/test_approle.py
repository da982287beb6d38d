"""AppRole set-up by bootstrap: one role per policy, credential files 0600, fresh secret
ids on every bootstrap with the previous one revoked, and the services' login path."""

from __future__ import annotations

from pathlib import Path

import hvac
import pytest

from shared import Settings, Vault, VaultForbidden
from shared.ops.bootstrap import POLICY_NAMES, bootstrap, write_approle_credentials


def _login(settings: Settings, directory: Path, role: str) -> dict[str, object]:
    client = hvac.Client(url=settings.vault_addr)
    return dict(
        client.auth.approle.login(
            (directory / f"{role}.role-id").read_text().strip(),
            (directory / f"{role}.secret-id").read_text().strip(),
        )["auth"]
    )


def test_bootstrap_writes_private_credentials_per_role(
    vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    """Every role gets a role-id and secret-id file (0600, in a 0700 directory); logging in
    with them gives a token carrying that role's policy alone, for an hour."""
    directory = tmp_path / "approle"
    report = bootstrap(vault, approle_dir=directory)
    assert f"AppRole credentials in {directory}" in report.created
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    for role in POLICY_NAMES:
        for suffix in ("role-id", "secret-id"):
            assert oct((directory / f"{role}.{suffix}").stat().st_mode & 0o777) == "0o600"
        auth = _login(settings, directory, role)
        assert auth["token_policies"] == [role]
        assert auth["lease_duration"] == 3600


def test_rewriting_credentials_revokes_the_previous_secret_id(
    vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    """A restart hands out new secret ids; the old ones no longer log in."""
    write_approle_credentials(vault, tmp_path)
    old_secret = (tmp_path / "crypto-api.secret-id").read_text().strip()
    role_id = (tmp_path / "crypto-api.role-id").read_text().strip()
    write_approle_credentials(vault, tmp_path)
    assert (tmp_path / "crypto-api.secret-id").read_text().strip() != old_secret
    assert (tmp_path / "crypto-api.role-id").read_text().strip() == role_id
    _login(settings, tmp_path, "crypto-api")  # the new one works
    stale = Vault(
        Settings(vault_addr=settings.vault_addr, vault_role_id=role_id, vault_secret_id=old_secret)
    )
    with pytest.raises(VaultForbidden, match="AppRole login refused"):
        stale.mounts()


def test_services_log_in_from_credential_files(
    vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    """VAULT_ROLE_ID_FILE + VAULT_SECRET_ID_FILE (what `tokenctl up` and compose give the
    APIs) log the Vault facade in with its role: allowed reads work, the rest is refused."""
    write_approle_credentials(vault, tmp_path)
    role_settings = Settings.from_env(
        {
            "VAULT_ADDR": settings.vault_addr,
            "VAULT_ROLE_ID_FILE": str(tmp_path / "crypto-api.role-id"),
            "VAULT_SECRET_ID_FILE": str(tmp_path / "crypto-api.secret-id"),
        }
    )
    crypto = Vault(role_settings)
    assert crypto.transit_read_key("authz-signing")["type"] == "ecdsa-p256"
    with pytest.raises(VaultForbidden):
        crypto.write_policy("crypto-api", 'path "*" { capabilities = ["sudo"] }')


def test_a_service_picks_up_a_rotated_secret_id_file(
    vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    """When bootstrap rotates the secret id on disk (revoking the old one) while a service
    runs, the service's next login reads the new file: no restart needed."""
    write_approle_credentials(vault, tmp_path)
    service = Vault(
        Settings.from_env(
            {
                "VAULT_ADDR": settings.vault_addr,
                "VAULT_ROLE_ID_FILE": str(tmp_path / "crypto-api.role-id"),
                "VAULT_SECRET_ID_FILE": str(tmp_path / "crypto-api.secret-id"),
            }
        )
    )
    service.transit_read_key("authz-signing")  # logged in with the first secret id
    write_approle_credentials(vault, tmp_path)  # a re-run of bootstrap: old id revoked
    # Its token expires (revoked here, as the 1 h TTL would): the next call logs in again.
    root = hvac.Client(url=settings.vault_addr, token=settings.vault_token)
    root.auth.token.revoke(service._client.token)
    assert service.transit_read_key("authz-signing")["type"] == "ecdsa-p256"
