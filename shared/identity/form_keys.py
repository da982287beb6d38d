"""The player's form keys in KV v2 at ``player-secrets/form-keys`` (``tokenctl vault
bootstrap`` creates them; only the player's and the admin's policies can read them).

Not under ``player/``: that prefix holds one document per account id, and an operator
listing it should see accounts only.
"""

from __future__ import annotations

import base64
import secrets

from shared.errors import ConfigurationError, VaultError, VaultNotFound
from shared.identity.form_token import FormKeys
from shared.vault import Vault

__all__ = ["FORM_KEYS_PATH", "ensure_form_keys", "load_form_keys"]

FORM_KEYS_PATH = "player-secrets/form-keys"


def load_form_keys(vault: Vault) -> FormKeys:
    """Read the form keys.

    Raises:
        ConfigurationError: there are none yet, or they are malformed.
        VaultError: Vault refused or could not be reached.
    """
    try:
        data, _ = vault.kv_read(FORM_KEYS_PATH)
    except VaultNotFound:
        raise ConfigurationError(
            f"no player form keys at {vault.settings.kv_mount}/{FORM_KEYS_PATH}: run "
            "`tokenctl vault bootstrap` (it creates them)"
        ) from None
    try:
        keys = tuple(
            (str(entry["kid"]), base64.b64decode(entry["key"], validate=True))
            for entry in data["keys"]
        )
        return FormKeys(keys)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"the player form keys are malformed: {exc}") from exc


def ensure_form_keys(vault: Vault) -> bool:
    """Create the form keys when there are none; True when this call created them."""
    try:
        vault.kv_read(FORM_KEYS_PATH)
    except VaultNotFound:
        key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        try:
            vault.kv_write(FORM_KEYS_PATH, {"keys": [{"kid": "1", "key": key}]}, cas=0)
        except VaultError as exc:
            if "check-and-set" in exc.detail:
                return False  # another bootstrap made them first: theirs stand
            raise
        return True
    return False
