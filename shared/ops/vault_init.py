"""Initialise and unseal a local OpenBao whose init material lives in a data dir (dev only).

A real deployment keeps unseal keys apart from the data they protect (several holders,
or an auto-unseal KMS). For the one-command stack, ``tokenctl up`` and the compose demo,
the single unseal key and the root token are kept ``0600`` in the data dir so a restart
unseals without a human: convenient, and exactly as safe as that directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from shared.errors import (
    ConfigurationError,
    VaultError,
    VaultForbidden,
    VaultSealed,
    VaultUnavailable,
)
from shared.ops.private_files import private_dir, write_private
from shared.vault import Vault

__all__ = ["INIT_FILE", "ROOT_TOKEN_FILE", "InitMaterial", "InitReport", "init_and_unseal"]

INIT_FILE = "openbao-init.json"
ROOT_TOKEN_FILE = "root-token"  # noqa: S105 - a file name, not a token


class InitMaterial(msgspec.Struct, frozen=True):
    """What ``sys/init`` returned: keep it secret, keep it safe."""

    unseal_keys_b64: list[str]
    root_token: str

    def __repr__(self) -> str:  # never print the material by accident
        return f"InitMaterial(<{len(self.unseal_keys_b64)} unseal key(s), root token hidden>)"

    def __rich_repr__(self) -> list[tuple[str, Any]]:  # rich's pretty printer too
        return [
            ("unseal_keys_b64", f"<{len(self.unseal_keys_b64)} hidden>"),
            ("root_token", "<hidden>"),
        ]


class InitReport(msgspec.Struct, frozen=True):
    """What :func:`init_and_unseal` did."""

    initialized: bool  # this call initialised Vault
    unsealed: bool  # this call unsealed Vault
    root_token_file: str


def _load(path: Path) -> InitMaterial:
    try:
        return msgspec.json.decode(path.read_bytes(), type=InitMaterial)
    except (OSError, msgspec.DecodeError) as exc:
        raise ConfigurationError(f"cannot read the init material {path}: {exc}") from None


def init_and_unseal(vault: Vault, data_dir: Path) -> InitReport:
    """Initialise Vault (one key share) if it is new, then unseal it if it is sealed.

    The material goes to ``data_dir/openbao-init.json`` and the root token to
    ``data_dir/root-token``, both 0600.

    Raises:
        ConfigurationError: Vault is initialised but the material is missing or unreadable
            (another data dir, or a Vault someone else initialised).
        VaultSealed: the stored key did not unseal Vault.
        VaultUnavailable: Vault cannot be reached.
    """
    private_dir(data_dir)
    material_file = data_dir / INIT_FILE
    token_file = data_dir / ROOT_TOKEN_FILE
    initialized, sealed = vault.seal_status()
    created = False
    if not initialized:
        keys, root = vault.initialize(shares=1)
        material = InitMaterial(unseal_keys_b64=keys, root_token=root)
        # The material first: if we die before the token file, the material still has it.
        write_private(material_file, msgspec.json.encode(material))
        created = True
        sealed = True
    elif not material_file.exists():
        raise ConfigurationError(
            f"Vault at {vault.settings.vault_addr} is initialised but {material_file} is "
            "missing: it was initialised from another data dir"
        )
    material = _load(material_file)
    write_private(token_file, material.root_token.encode("ascii") + b"\n")
    unsealed_now = False
    if sealed:
        refused = "it stayed sealed"
        for key in material.unseal_keys_b64:
            try:
                if vault.unseal(key):
                    unsealed_now = True
                    break
            except (VaultUnavailable, VaultForbidden):
                raise
            except VaultError as exc:  # Vault answers a wrong key with a 400
                refused = exc.detail
                break
        if not unsealed_now:
            raise VaultSealed(f"the unseal key in {material_file} did not unseal Vault: {refused}")
    return InitReport(initialized=created, unsealed=unsealed_now, root_token_file=str(token_file))
