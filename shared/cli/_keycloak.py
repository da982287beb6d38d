"""The Keycloak side of ``tokenctl accounts … --keycloak``, and tokenctl's admin login.

Admin credentials come from ``KEYCLOAK_ADMIN_CLIENT_ID`` + ``KEYCLOAK_ADMIN_CLIENT_SECRET``
or ``KEYCLOAK_ADMIN_USERNAME`` + ``KEYCLOAK_ADMIN_PASSWORD`` (each secret may be a
``*_FILE``), else from Vault, KV ``keycloak/admin`` (``client_id`` + ``client_secret`` or
``username`` + ``password``, optional ``realm``).
"""

from __future__ import annotations

from typing import Any, Final

from shared.accounts.document import Account
from shared.cli._context import Context
from shared.cli._output import exit_code_for
from shared.errors import ConfigurationError, ServiceError, VaultNotFound
from shared.keycloak import (
    AdminCredentials,
    Inspection,
    KeycloakProvisioner,
    KeycloakRealm,
    SyncResult,
    admin_client,
    admin_credentials,
)
from shared.settings import Settings

__all__ = [
    "fail_after",
    "inspection_data",
    "inspection_text",
    "mirror",
    "provisioner",
    "sync_data",
]

_VAULT_CREDENTIALS: Final = "keycloak/admin"


def _credentials(ctx: Context, settings: Settings) -> AdminCredentials:
    found = admin_credentials(settings)
    if found is not None:
        return found
    try:
        data, _ = ctx.vault().kv_read(_VAULT_CREDENTIALS)
    except VaultNotFound:
        data = {}
    realm = str(data.get("realm") or settings.keycloak_admin_realm)
    if data.get("client_id") and data.get("client_secret"):
        return AdminCredentials(
            realm=realm, client_id=str(data["client_id"]), client_secret=str(data["client_secret"])
        )
    if data.get("username") and data.get("password"):
        return AdminCredentials(
            realm=realm, username=str(data["username"]), password=str(data["password"])
        )
    raise ConfigurationError(
        "no Keycloak admin credentials: set KEYCLOAK_ADMIN_USERNAME and KEYCLOAK_ADMIN_PASSWORD "
        "(or KEYCLOAK_ADMIN_CLIENT_ID and KEYCLOAK_ADMIN_CLIENT_SECRET), or store them in Vault "
        f"at {_VAULT_CREDENTIALS}"
    )


def provisioner(ctx: Context) -> KeycloakProvisioner:
    """The realm of ``KEYCLOAK_URL``/``KEYCLOAK_REALM``, with tokenctl's admin login.

    Raises:
        ConfigurationError: the realm or the credentials are not configured, or
            python-keycloak is not installed.
    """
    settings = Settings.from_env()
    realm = KeycloakRealm.from_settings(settings)
    admin = admin_client(realm, _credentials(ctx, settings))
    return KeycloakProvisioner(realm, admin, audience=settings.crypto_audience)


def sync_data(result: SyncResult) -> tuple[dict[str, Any], str]:
    """What ``accounts create|update|disable --keycloak`` add to their output."""
    done = "; ".join(result.actions) if result.actions else "already in sync"
    return {"client": result.client_uuid, "actions": list(result.actions)}, f"Keycloak: {done}"


def inspection_data(inspection: Inspection) -> dict[str, Any]:
    """The ``keycloak`` member of ``accounts show --keycloak --json``."""
    data: dict[str, Any] = {
        "exists": inspection.exists,
        "in_sync": inspection.in_sync,
        "drift": list(inspection.drift),
    }
    if inspection.kid is not None:
        data["kid"] = inspection.kid
    return data


def inspection_text(inspection: Inspection) -> str:
    """The Keycloak lines of ``accounts show --keycloak``."""
    lines = [f"keycloak    {'in sync' if inspection.in_sync else 'DRIFT'}"]
    lines.extend(f"  - {item}" for item in inspection.drift)
    if inspection.kid is not None:
        lines.append(f"  client assertions: kid {inspection.kid} (or none)")
    if not inspection.in_sync:
        lines.append("  fix: tokenctl accounts update ID --keycloak (Vault's document wins)")
    return "\n".join(lines)


def mirror(
    realm: KeycloakProvisioner, account: Account, data: dict[str, Any]
) -> tuple[str, ServiceError | None]:
    """Mirror ``account`` into the realm after a Vault write: the outcome goes into
    ``data["keycloak"]``; returns the text line and the error, if any. The caller builds
    ``realm`` (:func:`provisioner`) before writing to Vault, so that a configuration error
    stops it before anything changes; it prints its result first (a generated secret must
    never be lost to a Keycloak outage), then calls :func:`fail_after`."""
    try:
        result = realm.sync(account)
    except ServiceError as exc:
        data["keycloak"] = {"ok": False, "code": exc.code, "detail": exc.detail}
        return (
            f"Keycloak: NOT mirrored ({exc.code}: {exc.detail}); when fixed, run "
            f"tokenctl accounts update {account.id} --keycloak",
            exc,
        )
    extra, line = sync_data(result)
    data["keycloak"] = {"ok": True, **extra}
    return line, None


def fail_after(error: ServiceError | None) -> None:
    """Exit with ``error``'s code once the result is printed (see :func:`mirror`)."""
    if error is not None:
        raise SystemExit(exit_code_for(error))
