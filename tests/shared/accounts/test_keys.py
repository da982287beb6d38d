"""Per-account Transit keys in a real OpenBao: rotation, version statuses, retirement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import hvac
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from shared import Account, AccountNotFound, KeyOperationRefused, KeyStore, Vault


@pytest.fixture
def account(make_account: Callable[..., Account]) -> Account:
    """A public-key account (its Transit key is at version 1)."""
    return make_account()


def test_rotate_adds_a_version_with_its_creation_time(account: Account, keystore: KeyStore) -> None:
    """Each rotation increments the latest version and records when each version was made."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    first = keystore.rotate(account.id)
    second = keystore.rotate(account.id)
    assert first.latest_version == 2
    assert second.latest_version == 3
    assert [v.version for v in second.versions] == [3, 2, 1]
    times = [v.created_at for v in second.versions]
    assert all(t is not None and before <= t <= datetime.now(UTC) for t in times)
    assert times == sorted(times, reverse=True)


def test_statuses_after_rotation(account: Account, keystore: KeyStore) -> None:
    """The latest version encrypts; older live versions still decrypt."""
    keystore.rotate(account.id)
    keys = keystore.rotate(account.id)
    assert [(v.version, v.status) for v in keys.versions] == [
        (3, "encrypt"),
        (2, "decrypt"),
        (1, "decrypt"),
    ]
    assert keys.min_decryption_version == 1


def test_retire_marks_older_versions_retired(account: Account, keystore: KeyStore) -> None:
    """Retiring below N raises the decryption floor and marks versions under N retired."""
    keystore.rotate(account.id)
    keystore.rotate(account.id)
    keys = keystore.retire(account.id, below=3)
    assert keys.min_decryption_version == 3
    assert [(v.version, v.status) for v in keys.versions] == [
        (3, "encrypt"),
        (2, "retired"),
        (1, "retired"),
    ]
    assert keystore.get(account.id) == keys


def test_public_keys_latest_first(account: Account, keystore: KeyStore) -> None:
    """Public keys are listed latest version first, each a distinct RSA key with its kid."""
    keystore.rotate(account.id)
    keys = keystore.rotate(account.id)
    assert [k.version for k in keys.public_keys] == [3, 2, 1]
    assert [k.kid for k in keys.public_keys] == [f"{account.id}/{n}" for n in (3, 2, 1)]
    assert keys.latest is keys.public_keys[0]
    assert len({k.pem for k in keys.public_keys}) == 3
    for key in keys.public_keys:
        loaded = load_pem_public_key(key.pem.encode())
        assert isinstance(loaded, RSAPublicKey)
        assert loaded.key_size == 2048
        assert key.jwk().key_type == "RSA"


def test_retired_versions_keep_their_creation_time(account: Account, keystore: KeyStore) -> None:
    """Transit stops listing retired versions; their creation times are kept anyway, the
    same as before retirement, through a later retirement too."""
    keystore.rotate(account.id)
    keystore.rotate(account.id)
    before = {v.version: v.created_at for v in keystore.rotate(account.id).versions}
    assert all(before.values())
    keystore.retire(account.id, below=2)
    keys = keystore.retire(account.id, below=4)
    assert [(v.version, v.status) for v in keys.versions] == [
        (4, "encrypt"),
        (3, "retired"),
        (2, "retired"),
        (1, "retired"),
    ]
    assert {v.version: v.created_at for v in keys.versions} == before
    assert keystore.get(account.id) == keys


def test_retire_refuses_the_latest_version(account: Account, keystore: KeyStore) -> None:
    """Retiring every version including the latest is refused, and nothing changes."""
    keystore.rotate(account.id)
    with pytest.raises(KeyOperationRefused) as caught:
        keystore.retire(account.id, below=3)
    assert caught.value.code == "KEY_OPERATION_REFUSED"
    assert keystore.get(account.id).min_decryption_version == 1


def test_retire_up_to_the_latest_is_allowed(account: Account, keystore: KeyStore) -> None:
    """``below`` equal to the latest version retires everything else and keeps the latest."""
    keystore.rotate(account.id)
    keys = keystore.retire(account.id, below=2)
    assert [(v.version, v.status) for v in keys.versions] == [(2, "encrypt"), (1, "retired")]


def test_retire_refuses_going_backwards(account: Account, keystore: KeyStore) -> None:
    """Once versions are retired, a lower ``below`` is refused rather than un-retiring them."""
    keystore.rotate(account.id)
    keystore.rotate(account.id)
    keystore.retire(account.id, below=3)
    with pytest.raises(KeyOperationRefused) as caught:
        keystore.retire(account.id, below=2)
    assert caught.value.code == "KEY_OPERATION_REFUSED"
    assert keystore.get(account.id).min_decryption_version == 3


def test_retire_to_the_current_floor_is_a_no_op(account: Account, keystore: KeyStore) -> None:
    """Retiring below the current floor again changes nothing and is not an error."""
    keystore.rotate(account.id)
    first = keystore.retire(account.id, below=2)
    assert keystore.retire(account.id, below=2) == first


@pytest.mark.parametrize("below", [0, -1], ids=["zero", "negative"])
def test_retire_below_one_is_refused(account: Account, keystore: KeyStore, below: int) -> None:
    """A ``below`` under version 1 is not a meaningful floor and is refused."""
    with pytest.raises(KeyOperationRefused):
        keystore.retire(account.id, below=below)


@pytest.mark.parametrize("operation", ["get", "rotate", "retire"], ids=str)
def test_operations_on_an_account_without_key(
    keystore: KeyStore, account_id: str, operation: str
) -> None:
    """Key operations for an account that has no key raise AccountNotFound (rotate creates none)."""
    call = {
        "get": lambda: keystore.get(account_id),
        "rotate": lambda: keystore.rotate(account_id),
        "retire": lambda: keystore.retire(account_id, below=1),
    }[operation]
    with pytest.raises(AccountNotFound):
        call()
    with pytest.raises(AccountNotFound):
        keystore.get(account_id)


def test_ensure_is_idempotent_and_checks_the_type(keystore: KeyStore, account_id: str) -> None:
    """``ensure`` creates once, leaves an existing key alone, and refuses a type mismatch."""
    keystore.ensure(account_id)
    keystore.rotate(account_id)
    keystore.ensure(account_id)
    assert keystore.get(account_id).latest_version == 2
    with pytest.raises(KeyOperationRefused) as caught:
        keystore.ensure(account_id, "rsa-4096")
    assert caught.value.code == "KEY_OPERATION_REFUSED"


def test_ensure_refuses_unknown_key_types(keystore: KeyStore, account_id: str) -> None:
    """Only the RSA key types of DESIGN §4 may back an account key."""
    with pytest.raises(KeyOperationRefused):
        keystore.ensure(account_id, "aes256-gcm96")
    with pytest.raises(AccountNotFound):
        keystore.get(account_id)


@pytest.mark.parametrize("flag", ["exportable", "allow_plaintext_backup"])
def test_ensure_refuses_a_key_that_can_leave_vault(
    vault: Vault, keystore: KeyStore, account_id: str, flag: str
) -> None:
    """An existing key made exportable or plaintext-backupable is refused, not adopted."""
    name = f"account-{account_id}"
    client = hvac.Client(url=vault.settings.vault_addr, token=vault.settings.vault_token)
    client.secrets.transit.create_key(name, key_type="rsa-2048", **{flag: True})
    with pytest.raises(KeyOperationRefused) as caught:
        keystore.ensure(account_id)
    assert flag in caught.value.detail
    assert "can leave Vault" in caught.value.detail
