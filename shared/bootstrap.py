"""``tokenctl vault bootstrap``: mounts, the bearer signing key and the role policies.

Idempotent: run it on every start; it creates what is missing and checks what exists.
"""

from __future__ import annotations

from importlib import resources
from string import Template

import msgspec

from shared.errors import ConfigurationError, VaultNotFound
from shared.vault import Vault

__all__ = ["AUTHZ_SIGNING_KEY", "POLICY_NAMES", "BootstrapReport", "bootstrap", "policy_hcl"]

AUTHZ_SIGNING_KEY = "authz-signing"
POLICY_NAMES = ("admin", "authz-api", "crypto-api", "player")


class BootstrapReport(msgspec.Struct, frozen=True):
    """What bootstrap created (``created``) and found already in place (``present``)."""

    created: list[str]
    present: list[str]


def policy_hcl(name: str, *, kv_mount: str, transit_mount: str) -> str:
    """The HCL of role policy ``name`` with the configured mount names filled in."""
    text = resources.files("shared.policies").joinpath(f"{name}.hcl").read_text("utf-8")
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


def bootstrap(vault: Vault) -> BootstrapReport:
    """Create the KV v2 and Transit mounts, the ``authz-signing`` key and the policies.

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
    return report
