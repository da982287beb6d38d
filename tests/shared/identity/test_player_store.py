"""PlayerStore against the real OpenBao: defaults, versioned writes, conflicts, refusals."""

from __future__ import annotations

import pytest

from shared import Vault
from shared.errors import AccountConflict, AccountInvalid
from shared.identity import Campaign, PlayerSettings, PlayerSettingsInvalid, PlayerStore
from shared.identity.player_store import PLAYER_PREFIX

SETTINGS = PlayerSettings(
    parent_origins=("https://shop.example",),
    prefill={"profile.mail": "email"},
    campaigns={"1001": Campaign(title="Spring")},
)


def test_account_without_document_has_defaults(vault: Vault, account_id: str) -> None:
    """An account with no player document reads as the defaults, version 0."""
    store = PlayerStore(vault)
    assert store.get(account_id) == PlayerSettings()
    assert store.get_versioned(account_id) == (PlayerSettings(), 0)


def test_put_then_get_versioned(vault: Vault, account_id: str) -> None:
    """put(expected=0) creates the document: version 1, read back equal."""
    store = PlayerStore(vault)
    assert store.put(account_id, SETTINGS, expected=0) == SETTINGS
    assert store.get_versioned(account_id) == (SETTINGS, 1)
    assert store.get(account_id) == SETTINGS


def test_put_invalidates_the_cache(vault: Vault, account_id: str) -> None:
    """A get() cached before a put() sees the new settings after it."""
    store = PlayerStore(vault)
    assert store.get(account_id) == PlayerSettings()
    store.put(account_id, SETTINGS, expected=0)
    assert store.get(account_id) == SETTINGS


def test_stale_expected_version_is_a_conflict(vault: Vault, account_id: str) -> None:
    """Writing with a version that is no longer current raises AccountConflict and keeps
    the stored settings."""
    store = PlayerStore(vault)
    store.put(account_id, SETTINGS, expected=0)
    changed = PlayerSettings(parent_origins=("https://other.example",))
    with pytest.raises(AccountConflict):
        store.put(account_id, changed, expected=0)
    store.put(account_id, changed, expected=1)
    with pytest.raises(AccountConflict):
        store.put(account_id, SETTINGS, expected=1)
    assert store.get_versioned(account_id) == (changed, 2)


@pytest.mark.parametrize(
    "invalid",
    [
        PlayerSettings(parent_origins=("https://shop.example/",)),
        PlayerSettings(parent_origins=("https://a.example", "https://a.example")),
        PlayerSettings(profile_api="http://shop.example/me"),
    ],
)
def test_invalid_settings_are_refused_and_not_stored(
    vault: Vault, account_id: str, invalid: PlayerSettings
) -> None:
    """Settings breaking a rule raise PlayerSettingsInvalid and nothing is written."""
    store = PlayerStore(vault)
    with pytest.raises(PlayerSettingsInvalid):
        store.put(account_id, invalid, expected=0)
    assert store.get_versioned(account_id) == (PlayerSettings(), 0)


def test_malformed_stored_document_is_invalid(vault: Vault, account_id: str) -> None:
    """A document written around the store that does not decode raises PlayerSettingsInvalid."""
    vault.kv_write(PLAYER_PREFIX + account_id, {"campaigns": {"bad id": {"title": "x"}}})
    with pytest.raises(PlayerSettingsInvalid, match="malformed"):
        PlayerStore(vault).get(account_id)


@pytest.mark.parametrize("bad", ["", "../other", "A/B", "x" * 500])
def test_malformed_account_id_is_refused(vault: Vault, bad: str) -> None:
    """A malformed account id raises AccountInvalid for reads and writes alike."""
    store = PlayerStore(vault)
    with pytest.raises(AccountInvalid):
        store.get(bad)
    with pytest.raises(AccountInvalid):
        store.put(bad, SETTINGS, expected=0)
