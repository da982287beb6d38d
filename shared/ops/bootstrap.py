"""``tokenctl vault bootstrap``: mounts, the bearer signing key and the role policies.

Idempotent: run it on every start; it creates what is missing and checks what exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from string import Template

import msgspec

from shared.errors import ConfigurationError, VaultNotFound
from shared.identity import ensure_form_keys
from shared.ops.private_files import private_dir, write_private
from shared.vault import Vault
from shared.vault.layout import AUTHZ_SIGNING_KEY

__all__ = [
    "POLICY_NAMES",
    "BootstrapReport",
    "bootstrap",
    "policy_hcl",
    "write_approle_credentials",
]

POLICY_NAMES = ("admin", "authz-api", "crypto-api", "player")
#: Lifetime of a service's AppRole token; the services log in again when it runs out.
APPROLE_TTL = "1h"


class BootstrapReport(msgspec.Struct, frozen=True):
    """What bootstrap created (``created``) and found already in place (``present``)."""

    created: list[str]
    present: list[str]


def policy_hcl(name: str, *, kv_mount: str, transit_mount: str) -> str:
    """The HCL of role policy ``name`` with the configured mount names filled in."""
    text = resources.files("shared.ops.policies").joinpath(f"{name}.hcl").read_text("utf-8")
    return Template(text).substitute(kv=kv_mount, transit=transit_mount)


def _ensure_mount(vault: Vault, path: str, engine: str, report: BootstrapReport) -> None:
    mounts = vault.mounts()
    existing = mounts.get(f"{path}/")
    if existing is None:
        options = {"version": "2"} if engine == "kv" else None
        vault.enable_engine(path, engine, options)
        report.created.append(f"mount {path}/ ({engine})")
        return
    kind = existing.get("type")
    version = (existing.get("options") or {}).get("version")
    if kind != engine or (engine == "kv" and version != "2"):
        raise ConfigurationError(
            f"mount {path}/ exists as {kind!r} (version {version!r}); expected {engine}"
            + (" version 2" if engine == "kv" else "")
        )
    report.present.append(f"mount {path}/")


def bootstrap(
    vault: Vault,
    approle_dir: Path | str | None = None,
    *,
    approle_cidrs: Sequence[str] | None = None,
) -> BootstrapReport:
    """Create the KV v2 and Transit mounts, the ``authz-signing`` key, the policies, the
    player's form keys and one AppRole per policy; with ``approle_dir``, also write each
    role's credentials there (see :func:`write_approle_credentials`).

    Raises:
        ConfigurationError: a mount exists with the wrong engine or KV version.
        VaultError: Vault refused: bootstrap needs a root token, or one allowed to manage
            ``sys/mounts`` and ``sys/policies/acl`` (the ``admin`` policy is not).
    """
    s = vault.settings
    report = BootstrapReport(created=[], present=[])
    _ensure_mount(vault, s.kv_mount, "kv", report)
    _ensure_mount(vault, s.transit_mount, "transit", report)
    try:
        key = vault.transit_read_key(AUTHZ_SIGNING_KEY)
    except VaultNotFound:
        vault.transit_create_key(AUTHZ_SIGNING_KEY, "ecdsa-p256")
        report.created.append(f"transit key {AUTHZ_SIGNING_KEY}")
    else:
        if key.get("type") != "ecdsa-p256":
            raise ConfigurationError(f"transit key {AUTHZ_SIGNING_KEY} is not ecdsa-p256")
        report.present.append(f"transit key {AUTHZ_SIGNING_KEY}")
    for name in POLICY_NAMES:
        vault.write_policy(
            name, policy_hcl(name, kv_mount=s.kv_mount, transit_mount=s.transit_mount)
        )
        report.present.append(f"policy {name}")
    # The player's form keys (shared.identity.form_keys): created once, never replaced.
    if ensure_form_keys(vault):
        report.created.append("player form keys")
    else:
        report.present.append("player form keys")
    _ensure_approles(vault, report, approle_cidrs)
    if approle_dir is not None:
        write_approle_credentials(vault, Path(approle_dir))
        report.created.append(f"AppRole credentials in {approle_dir}")
    return report


def _ensure_approles(vault: Vault, report: BootstrapReport, cidrs: Sequence[str] | None) -> None:
    if "approle/" not in vault.auth_methods():
        vault.enable_auth("approle")
        report.created.append("auth approle/")
    else:
        report.present.append("auth approle/")
    for name in POLICY_NAMES:
        # Each service's token carries its own policy and nothing else; it expires hourly
        # and the services log in again (shared.vault.connection), so a leaked token is short-lived.
        vault.approle_write(name, [name], token_ttl=APPROLE_TTL, bound_cidrs=cidrs)
        report.present.append(f"approle {name}")


def write_approle_credentials(vault: Vault, directory: Path) -> dict[str, Path]:
    """Write ``<role>.role-id`` and a fresh ``<role>.secret-id`` (0600) for every role.

    The previous secret id of each role, if its file is there, is revoked: a restart hands
    out new credentials and the old ones stop working (running services keep their
    current Vault token until it expires). Returns the secret-id files by role.
    """
    private_dir(directory)
    written: dict[str, Path] = {}
    for name in POLICY_NAMES:
        role_file = directory / f"{name}.role-id"
        secret_file = directory / f"{name}.secret-id"
        write_private(role_file, vault.approle_role_id(name) + "\n")
        new_secret = vault.approle_new_secret_id(name)
        old_secret = secret_file.read_text("utf-8").strip() if secret_file.exists() else ""
        write_private(secret_file, new_secret + "\n")
        if old_secret:
            vault.approle_destroy_secret_id(name, old_secret)
        written[name] = secret_file
    return written
