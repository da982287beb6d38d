"""Least privilege (DESIGN §4), proved by Vault itself: each role's token, from an AppRole
login with the credentials bootstrap writes, allows its job and refuses the rest."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path

import hvac
import msgspec
import pytest

from shared import (
    Account,
    AccountStore,
    KeyStore,
    Sealer,
    Settings,
    Vault,
    VaultForbidden,
    Verifier,
)
from shared.algorithms import TRANSIT_KEY_TYPES
from shared.identity import (
    PlayerSecrets,
    PlayerSecretsStore,
    PlayerSettings,
    PlayerStore,
    ensure_form_keys,
    load_form_keys,
)
from shared.identity.form_keys import FORM_KEYS_PATH
from shared.ops import policies
from shared.ops.bootstrap import write_approle_credentials
from shared.vault.layout import AUTHZ_SIGNING_KEY
from tests.support.tokens import claims, sign


@pytest.fixture(scope="session")
def approle_dir(vault: Vault, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each role's AppRole credentials, written as bootstrap writes them for the services."""
    directory = tmp_path_factory.mktemp("approle")
    write_approle_credentials(vault, directory)
    return directory


def role_vault(settings: Settings, role: str, approle_dir: Path) -> Vault:
    """A Vault facade with the token the services get: an AppRole login as ``role``."""
    role_id = (approle_dir / f"{role}.role-id").read_text().strip()
    secret_id = (approle_dir / f"{role}.secret-id").read_text().strip()
    login = hvac.Client(url=settings.vault_addr).auth.approle.login(role_id, secret_id)
    token = login["auth"]["client_token"]
    # The token holds the role's policy and nothing else (not even `default`).
    assert login["auth"]["token_policies"] == [role]
    return Vault(Settings(vault_addr=settings.vault_addr, vault_token=token))


def can_sign(vault: Vault) -> bool:
    client = hvac.Client(url=vault.settings.vault_addr, token=vault.settings.vault_token)
    try:
        client.secrets.transit.sign_data(
            AUTHZ_SIGNING_KEY,
            hash_input=base64.b64encode(b"x").decode(),
            marshaling_algorithm="jws",
        )
    except hvac.exceptions.Forbidden:
        return False
    return True


@pytest.fixture
def sealed(
    make_account: Callable[..., Account], keystore: KeyStore, settings: Settings
) -> tuple[Account, str]:
    account = make_account()
    return account, Sealer(keystore, settings).seal(account.id, sign(claims(), "ES256", "ec-p256"))


def test_crypto_api_reads_public_keys_but_cannot_decrypt(
    settings: Settings, sealed: tuple[Account, str], approle_dir: Path
) -> None:
    """crypto-api seals with the public key it may read; Vault refuses it transit/decrypt,
    key rotation, account writes and bearer signing."""
    account, jwe = sealed
    vault = role_vault(settings, "crypto-api", approle_dir)
    keys = KeyStore(vault)
    assert keys.get(account.id).latest.kid == f"{account.id}/1"
    assert AccountStore(vault).get(account.id).id == account.id
    with pytest.raises(VaultForbidden):
        keys.decrypt(account.id, 1, base64.urlsafe_b64decode(jwe.split(".")[1] + "=="))
    with pytest.raises(VaultForbidden):
        keys.rotate(account.id)
    with pytest.raises(VaultForbidden):
        vault.kv_write(f"accounts/{account.id}", {"status": "disabled"})
    assert not can_sign(vault)


def test_authz_api_signs_but_cannot_touch_account_keys(
    settings: Settings, sealed: tuple[Account, str], approle_dir: Path
) -> None:
    """authz-api reads accounts and signs with authz-signing; it cannot read, rotate or
    decrypt with account keys."""
    account, jwe = sealed
    vault = role_vault(settings, "authz-api", approle_dir)
    assert AccountStore(vault).get(account.id).id == account.id
    assert can_sign(vault)
    keys = KeyStore(vault)
    with pytest.raises(VaultForbidden):
        keys.get(account.id)
    with pytest.raises(VaultForbidden):
        vault.transit_rotate(f"account-{account.id}")
    with pytest.raises(VaultForbidden):
        keys.decrypt(account.id, 1, base64.urlsafe_b64decode(jwe.split(".")[1] + "=="))


def test_player_verifies_but_cannot_sign_or_manage(
    settings: Settings, sealed: tuple[Account, str], approle_dir: Path
) -> None:
    """player opens JWEs through transit/decrypt; it cannot sign bearers, rotate or write."""
    account, jwe = sealed
    vault = role_vault(settings, "player", approle_dir)
    assert Verifier(vault).verify(jwe, account_id=account.id, campaign_id="1001").key_version == 1
    assert not can_sign(vault)
    with pytest.raises(VaultForbidden):
        vault.transit_rotate(f"account-{account.id}")
    with pytest.raises(VaultForbidden):
        vault.kv_write(f"accounts/{account.id}", {"status": "disabled"})


def test_player_reads_its_settings_and_form_keys_but_cannot_write_them(
    vault: Vault, settings: Settings, account_id: str, approle_dir: Path
) -> None:
    """player reads ``player/<account>``, ``player-secrets/form-keys`` and the account's
    ``player-secrets/accounts/<account>``; writing any, or reading another
    ``player-secrets/`` path, is refused (the admin writes them)."""
    ensure_form_keys(vault)
    admin = role_vault(settings, "admin", approle_dir)
    PlayerStore(admin).put(account_id, PlayerSettings(identification="messages"), expected=0)
    PlayerSecretsStore(admin).put(account_id, PlayerSecrets(webhook_auth_value="v"), expected=0)
    admin.kv_write("player-secrets/other", {"x": "1"})
    player = role_vault(settings, "player", approle_dir)
    assert PlayerStore(player).get_versioned(account_id)[0].identification == "messages"
    assert PlayerSecretsStore(player).get(account_id).webhook_auth_value == "v"
    assert load_form_keys(player).keys
    with pytest.raises(VaultForbidden):
        PlayerSecretsStore(player).put(account_id, PlayerSecrets(), expected=1)
    with pytest.raises(VaultForbidden):
        player.kv_write(f"player/{account_id}", {"identification": "messages"})
    with pytest.raises(VaultForbidden):
        player.kv_write(FORM_KEYS_PATH, {"keys": []})
    with pytest.raises(VaultForbidden):
        player.kv_read("player-secrets/other")


def test_admin_manages_keys_but_cannot_decrypt_export_or_weaken(
    settings: Settings, sealed: tuple[Account, str], approle_dir: Path
) -> None:
    """admin creates, rotates, schedules and retires; Vault refuses it decrypt, export, trim,
    and any key config other than min_decryption_version and auto_rotate_period."""
    account, jwe = sealed
    vault = role_vault(settings, "admin", approle_dir)
    store = AccountStore(vault)
    created = store.create(msgspec.structs.replace(account, id=f"{account.id}-new"))
    assert store.disable(created.id).status == "disabled"
    assert created.id in store.list()
    keys = KeyStore(vault)
    assert keys.rotate(account.id).latest_version == 2
    assert keys.retire(account.id, 2).min_decryption_version == 2
    assert keys.schedule(account.id, 30 * 86400).auto_rotate_period == 30 * 86400
    with pytest.raises(VaultForbidden):
        keys.decrypt(account.id, 2, base64.urlsafe_b64decode(jwe.split(".")[1] + "=="))
    client = hvac.Client(url=settings.vault_addr, token=vault.settings.vault_token)
    name = f"account-{account.id}"
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.transit.update_key_configuration(name, exportable=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.transit.update_key_configuration(name, deletion_allowed=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.transit.update_key_configuration(name, min_encryption_version=2)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.transit.trim_key(name, min_version=2)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.transit.export_key(name, key_type="encryption-key")
    assert not can_sign(vault)


@pytest.mark.parametrize(
    "params",
    [
        {"exportable": True},
        {"allow_plaintext_backup": True},
        {"exportable": "true"},
        {"derived": True},
        {"convergent_encryption": True, "derived": True},
        {"type": "aes256-gcm96"},
    ],
    ids=["exportable", "plaintext-backup", "exportable-as-string", "derived", "convergent", "aes"],
)
def test_admin_cannot_create_a_key_that_leaves_vault(
    settings: Settings, approle_dir: Path, account_id: str, params: dict[str, object]
) -> None:
    """Vault refuses the admin role a Transit key created exportable, backupable in plain,
    derived or of another type; the plain RSA creation tokenctl sends is allowed."""
    vault = role_vault(settings, "admin", approle_dir)
    client = hvac.Client(url=settings.vault_addr, token=vault.settings.vault_token)
    path = f"{settings.transit_mount}/keys/account-{account_id}"
    with pytest.raises(hvac.exceptions.Forbidden):
        client.write_data(path, data={"type": "rsa-2048", **params})
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.transit.read_key(f"account-{account_id}")
    KeyStore(vault).ensure(account_id, "rsa-4096")
    assert KeyStore(vault).get(account_id).key_type == "rsa-4096"


def test_admin_policy_key_types_are_the_account_key_types() -> None:
    """The admin policy allows exactly the RSA key types an account key may have."""
    text = (Path(policies.__file__).parent / "admin.hcl").read_text()
    allowed = re.search(r'"type" = \[([^\]]*)\]', text)
    assert allowed is not None
    assert tuple(json.loads(f"[{allowed.group(1)}]")) == TRANSIT_KEY_TYPES
