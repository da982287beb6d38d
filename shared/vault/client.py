"""The Vault (OpenBao) endpoints we use, typed: system, AppRole, KV v2 and Transit.

Every call goes through :class:`~shared.vault.connection.VaultConnection` (login,
retries, failover between addresses), and its errors come out as our :mod:`shared.errors`
tree (:mod:`shared.vault.failures`).

hvac is synchronous: async callers run these methods in a worker thread.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from shared.errors import VaultError, VaultForbidden, VaultNotFound, VaultUnavailable
from shared.vault.connection import VaultConnection
from shared.vault.failures import TransitDecryptRefused, describe, is_decrypt_refusal

__all__ = ["Vault"]


class Vault(VaultConnection):
    """A thin, typed, error-mapped facade over the Vault endpoints we use."""

    # -- system -----------------------------------------------------------------------------

    def mounts(self) -> dict[str, dict[str, Any]]:
        """Secrets engines by path (``secret/`` ...)."""
        data = self._call(self._client.sys.list_mounted_secrets_engines)
        return dict(data.get("data", data))

    def enable_engine(self, path: str, engine: str, options: dict[str, str] | None = None) -> None:
        """Mount a secrets engine at ``path``."""
        self._call(
            lambda: self._client.sys.enable_secrets_engine(engine, path=path, options=options)
        )

    def write_policy(self, name: str, hcl: str) -> None:
        """Create or replace an ACL policy."""
        self._call(lambda: self._client.sys.create_or_update_acl_policy(name=name, policy=hcl))

    def seal_status(self) -> tuple[bool, bool]:
        """``(initialized, sealed)``; needs no token."""
        status = self._map(self._client.sys.read_seal_status, failover=False)
        return bool(status["initialized"]), bool(status["sealed"])

    def initialize(self, shares: int = 1) -> tuple[list[str], str]:
        """Initialise a new Vault: ``(unseal keys, root token)``; needs no token."""
        result = self._map(
            lambda: self._client.sys.initialize(secret_shares=shares, secret_threshold=shares),
            failover=False,
        )
        return [str(k) for k in result["keys_base64"]], str(result["root_token"])

    def unseal(self, key: str) -> bool:
        """Submit one unseal key; True once Vault is unsealed."""
        result = self._map(lambda: self._client.sys.submit_unseal_key(key), failover=False)
        return not result["sealed"]

    def auth_methods(self) -> dict[str, dict[str, Any]]:
        """Enabled auth methods by path (``approle/`` ...)."""
        data = self._call(self._client.sys.list_auth_methods)
        return dict(data.get("data", data))

    def enable_auth(self, method: str) -> None:
        """Enable an auth method at its default path."""
        self._call(lambda: self._client.sys.enable_auth_method(method))

    def approle_write(
        self,
        role: str,
        policies: list[str],
        *,
        token_ttl: str,
        bound_cidrs: Sequence[str] | None = None,
    ) -> None:
        """Create or update AppRole ``role`` issuing tokens with ``policies`` only; with
        ``bound_cidrs``, its secret ids log in and its tokens work only from those networks
        (None leaves the role's bindings as they are)."""
        cidrs = None if bound_cidrs is None else list(bound_cidrs)
        self._call(
            lambda: self._client.auth.approle.create_or_update_approle(
                role,
                token_policies=policies,
                token_ttl=token_ttl,
                token_max_ttl=token_ttl,
                # No default policy: a role's token holds exactly its role policy.
                token_no_default_policy=True,
                secret_id_num_uses=0,
                secret_id_bound_cidrs=cidrs,
                token_bound_cidrs=cidrs,
            )
        )

    def approle_role_id(self, role: str) -> str:
        """The role id of ``role`` (not a secret on its own)."""
        result = self._call(lambda: self._client.auth.approle.read_role_id(role))
        return str(result["data"]["role_id"])

    def approle_new_secret_id(self, role: str) -> str:
        """A fresh secret id for ``role``."""
        result = self._call(lambda: self._client.auth.approle.generate_secret_id(role))
        return str(result["data"]["secret_id"])

    def approle_destroy_secret_id(self, role: str, secret_id: str) -> None:
        """Revoke ``secret_id`` of ``role`` (a no-op when it is already gone)."""
        self._call(lambda: self._client.auth.approle.destroy_secret_id(role, secret_id))

    # -- KV v2 ------------------------------------------------------------------------------

    def kv_read(self, path: str) -> tuple[dict[str, Any], int]:
        """The latest data at ``path`` and its version; raises :class:`VaultNotFound`."""
        result = self._call(
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.settings.kv_mount, raise_on_deleted_version=True
            )
        )
        return dict(result["data"]["data"]), int(result["data"]["metadata"]["version"])

    def kv_write(self, path: str, data: dict[str, Any], *, cas: int | None = None) -> int:
        """Write ``data``; ``cas=0`` creates only, ``cas=N`` updates only version N.

        Raises:
            VaultError: with ``check-and-set`` in its detail when ``cas`` did not match.
        """
        result = self._call(
            lambda: self._client.secrets.kv.v2.create_or_update_secret(
                path=path, secret=data, cas=cas, mount_point=self.settings.kv_mount
            ),
            repeatable=False,
        )
        return int(result["data"]["version"])

    def kv_versions(self, path: str) -> dict[int, str]:
        """When each retained, undeleted version at ``path`` was written (KV metadata's
        ``created_time``), by version; raises :class:`VaultNotFound`."""
        result = self._call(
            lambda: self._client.secrets.kv.v2.read_secret_metadata(
                path=path, mount_point=self.settings.kv_mount
            )
        )
        versions = dict(result["data"].get("versions") or {})
        return {
            int(n): str(info["created_time"])
            for n, info in versions.items()
            if not info.get("deletion_time") and not info.get("destroyed")
        }

    def kv_read_version(self, path: str, version: int) -> dict[str, Any]:
        """The data of one version at ``path``; raises :class:`VaultNotFound`."""
        result = self._call(
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=path,
                version=version,
                mount_point=self.settings.kv_mount,
                raise_on_deleted_version=True,
            )
        )
        return dict(result["data"]["data"])

    def kv_list(self, path: str) -> list[str]:
        """Child keys under ``path``; empty when there are none."""
        try:
            result = self._call(
                lambda: self._client.secrets.kv.v2.list_secrets(
                    path=path, mount_point=self.settings.kv_mount
                )
            )
        except VaultNotFound:
            return []
        return [str(k) for k in result["data"]["keys"]]

    # -- transit ----------------------------------------------------------------------------

    def transit_create_key(self, name: str, key_type: str) -> None:
        """Create a Transit key (a no-op in Vault when it already exists)."""
        self._call(
            lambda: self._client.secrets.transit.create_key(
                name,
                key_type=key_type,
                exportable=False,
                allow_plaintext_backup=False,
                mount_point=self.settings.transit_mount,
            )
        )

    def transit_read_key(self, name: str) -> dict[str, Any]:
        """Key metadata, including each live version's ``public_key`` for RSA/EC keys."""
        result = self._call(
            lambda: self._client.secrets.transit.read_key(
                name, mount_point=self.settings.transit_mount
            )
        )
        return dict(result["data"])

    def transit_rotate(self, name: str) -> None:
        """Add a new key version."""
        self._call(
            lambda: self._client.secrets.transit.rotate_key(
                name, mount_point=self.settings.transit_mount
            ),
            repeatable=False,
        )

    def transit_configure(
        self,
        name: str,
        *,
        min_decryption_version: int | None = None,
        auto_rotate_period: int | None = None,
    ) -> None:
        """Set ``min_decryption_version`` (retires the versions below it) and/or
        ``auto_rotate_period`` (seconds between automatic rotations; 0 disables them)."""
        self._call(
            lambda: self._client.secrets.transit.update_key_configuration(
                name,
                min_decryption_version=min_decryption_version,
                # Sent as a duration: Transit reads a bare number as seconds too, but "Ns"
                # leaves no doubt about the unit.
                auto_rotate_period=None if auto_rotate_period is None else f"{auto_rotate_period}s",
                mount_point=self.settings.transit_mount,
            )
        )

    def transit_decrypt(self, name: str, version: int, ciphertext: bytes) -> bytes:
        """Decrypt raw ``ciphertext`` made under key ``version``; returns the plaintext.

        Raises:
            TransitDecryptRefused: Vault refused these bytes (wrong key, retired or unknown
                version, bad padding). Transit reports a failed RSA decryption as a 500, so
                that 500 (recognised by its message, not its URL) is classed here, not as an
                outage: otherwise a forged token would look like a retryable failure.
            VaultUnavailable: Vault could not be reached or failed for another reason.
        """
        wire = f"vault:v{version}:{base64.b64encode(ciphertext).decode('ascii')}"

        def call() -> dict[str, Any]:
            return dict(
                self._client.secrets.transit.decrypt_data(
                    name, ciphertext=wire, mount_point=self.settings.transit_mount
                )
            )

        try:
            result = self._call(call)
        except VaultUnavailable as exc:
            cause = exc.__cause__
            if cause is not None and is_decrypt_refusal(cause):
                raise TransitDecryptRefused(describe(cause)) from cause
            raise
        except (VaultNotFound, VaultForbidden):
            raise
        except VaultError as exc:  # 400: too old, too new, key not found, malformed
            raise TransitDecryptRefused(exc.detail) from exc
        return base64.b64decode(result["data"]["plaintext"])

    def transit_sign_jws(self, name: str, signing_inputs: list[bytes], version: int) -> list[str]:
        """Sign JWS signing inputs with key ``version`` in one call (``batch_input``).

        ``marshaling_algorithm=jws`` makes Transit return ES256's raw ``r || s`` form,
        base64url-encoded, ready to be the third segment of a compact JWS.

        Returns:
            The base64url signatures, in input order.

        Raises:
            VaultError: the call failed, or Transit refused an item.
        """
        result = self._call(
            lambda: self._client.secrets.transit.sign_data(
                name,
                batch_input=[
                    {"input": base64.b64encode(i).decode("ascii")} for i in signing_inputs
                ],
                key_version=version,
                hash_algorithm="sha2-256",
                marshaling_algorithm="jws",
                mount_point=self.settings.transit_mount,
            )
        )
        items = list(result["data"]["batch_results"])
        if len(items) != len(signing_inputs):
            raise VaultUnavailable(
                f"Transit returned {len(items)} results for {len(signing_inputs)} inputs"
            )
        signatures = []
        for item in items:
            if item.get("error") or not item.get("signature"):
                raise VaultError(f"Transit refused to sign: {item.get('error')}")
            signatures.append(str(item["signature"]).rsplit(":", 1)[1])  # strip "vault:vN:"
        return signatures

    def transit_export(self, name: str, key_type: str, version: int) -> str:
        """Export one version of an *exportable* key (tests and break-glass only)."""
        result = self._call(
            lambda: self._client.secrets.transit.export_key(
                name,
                key_type=key_type,
                version=str(version),
                mount_point=self.settings.transit_mount,
            )
        )
        return str(result["data"]["keys"][str(version)])
