"""Per-account JWE keys in Transit: create, rotate, schedule, list, retire, read public
parts, decrypt.

One RSA Transit key per account (``account-<id>``). Rotation adds a version; new JWEs use
the latest; a schedule (Transit's ``auto_rotate_period``) makes Vault rotate by itself.
Retirement raises ``min_decryption_version``: Transit then refuses to decrypt anything made
under the versions below it. The private key never leaves Vault.

Transit stops listing a version once it is retired (its creation time with it), so
:meth:`KeyStore.retire` first copies the retired versions' creation times to KV, at
``accounts/<id>/key-versions`` (beside the account document, under the same policies; not a
secret), and :meth:`KeyStore.get` reads them back for the versions Transit no longer lists.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Literal

import msgspec
from joserfc.jwk import RSAKey

from shared.accounts.document import check_account_id, transit_key_name
from shared.algorithms import TRANSIT_KEY_TYPES
from shared.errors import AccountNotFound, KeyOperationRefused, VaultError, VaultNotFound
from shared.vault import Vault

__all__ = ["MIN_ROTATION_PERIOD", "KeySet", "KeyStore", "KeyVersion", "PublicKey"]

#: Transit key settings that let the private key out of Vault.
_LEAKY_FLAGS = ("exportable", "allow_plaintext_backup")

#: The shortest ``auto_rotate_period`` Transit accepts (seconds; 0 turns rotation off).
MIN_ROTATION_PERIOD = 3600
#: A cap of ours: Go's durations (Transit's) overflow past about 292 years.
_MAX_ROTATION_PERIOD = 100 * 365 * 86400


class KeyVersion(msgspec.Struct, frozen=True):
    """One version of an account key, as shown to operators."""

    version: int
    created_at: datetime | None
    #: ``encrypt``: new JWEs use it; ``decrypt``: old JWEs still open; ``retired``: refused.
    status: Literal["encrypt", "decrypt", "retired"]


class PublicKey(msgspec.Struct, frozen=True):
    """The public half of one key version, ready for joserfc."""

    account_id: str
    version: int
    pem: str

    @property
    def kid(self) -> str:
        """The JWE ``kid``: account and version, e.g. ``acme/3``."""
        return f"{self.account_id}/{self.version}"

    def jwk(self) -> RSAKey:
        """A joserfc key for encryption."""
        return RSAKey.import_key(self.pem.encode())


class KeySet(msgspec.Struct, frozen=True):
    """A snapshot of an account key: versions, bounds and live public keys."""

    account_id: str
    key_type: str
    latest_version: int
    min_decryption_version: int
    versions: tuple[KeyVersion, ...]
    public_keys: tuple[PublicKey, ...]
    #: Seconds between Vault's automatic rotations; 0: only by hand.
    auto_rotate_period: int = 0

    @property
    def latest(self) -> PublicKey:
        """The version new JWEs are sealed with."""
        return next(k for k in self.public_keys if k.version == self.latest_version)


def _history_path(account_id: str) -> str:
    """Where the creation times of an account's retired key versions are kept (KV)."""
    return f"accounts/{account_id}/key-versions"


def _parse_time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


class KeyStore:
    """Key management for accounts' Transit keys."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def ping(self) -> None:
        """Raise unless Vault answers on the Transit mount (readiness)."""
        with contextlib.suppress(VaultNotFound):  # "not found" is an answer: Vault is up
            self._vault.transit_read_key(transit_key_name("readiness-probe"))

    def ensure(self, account_id: str, key_type: str = "rsa-2048") -> None:
        """Create the account key if it does not exist; check it if it does.

        Raises:
            KeyOperationRefused: a key of another type already has that name, or the
                existing key can leave Vault (``exportable`` or ``allow_plaintext_backup``).
        """
        check_account_id(account_id)
        if key_type not in TRANSIT_KEY_TYPES:
            raise KeyOperationRefused(f"key type must be one of {list(TRANSIT_KEY_TYPES)}")
        name = transit_key_name(account_id)
        try:
            existing = self._vault.transit_read_key(name)
        except VaultNotFound:
            self._vault.transit_create_key(name, key_type)
            return
        if existing.get("type") != key_type:
            raise KeyOperationRefused(
                f"Transit key {name!r} exists with type {existing.get('type')!r}, not {key_type!r}"
            )
        leaks = [flag for flag in _LEAKY_FLAGS if existing.get(flag)]
        if leaks:
            # Adopting it would make an account whose private key can be read out of Vault
            # (both flags are irreversible): the key was not made by us, or not for this.
            raise KeyOperationRefused(
                f"Transit key {name!r} exists with {' and '.join(leaks)} set: its private key "
                "can leave Vault, so it is not used for an account; delete it (break-glass) "
                "or choose another account id"
            )

    def get(self, account_id: str) -> KeySet:
        """Versions, bounds and public keys of the account key.

        Raises:
            AccountNotFound: the account has no key.
        """
        check_account_id(account_id)
        try:
            data = self._vault.transit_read_key(transit_key_name(account_id))
        except VaultNotFound:
            raise AccountNotFound(f"account {account_id!r} has no key") from None
        latest = int(data["latest_version"])
        min_dec = max(int(data.get("min_decryption_version") or 1), 1)
        live = {int(v): info for v, info in dict(data.get("keys") or {}).items()}
        created = {n: str(info.get("creation_time")) for n, info in live.items()}
        if any(n not in live for n in range(1, latest + 1)):
            created = {**self._retired_times(account_id), **created}
        versions = tuple(
            KeyVersion(
                version=n,
                created_at=_parse_time(created[n]) if n in created else None,
                status="encrypt" if n == latest else "decrypt" if n >= min_dec else "retired",
            )
            for n in range(latest, 0, -1)
        )
        public = tuple(
            PublicKey(account_id=account_id, version=n, pem=str(live[n]["public_key"]))
            for n in sorted(live, reverse=True)
            if live[n].get("public_key")
        )
        return KeySet(
            account_id=account_id,
            key_type=str(data.get("type")),
            latest_version=latest,
            min_decryption_version=min_dec,
            versions=versions,
            public_keys=public,
            auto_rotate_period=int(data.get("auto_rotate_period") or 0),
        )

    def _retired_times(self, account_id: str) -> dict[int, str]:
        """The creation times :meth:`retire` kept (none for versions retired otherwise)."""
        try:
            data, _ = self._vault.kv_read(_history_path(account_id))
        except VaultError:
            # Only shown to operators: a failure here must not fail sealing or verifying,
            # which read the same key set.
            return {}
        times = data.get("created") or {}
        return {int(n): str(t) for n, t in dict(times).items() if str(n).isdigit()}

    def _keep_times(self, keys: KeySet, below: int) -> None:
        """Copy the creation times of the versions ``below`` retires, before Transit drops
        them from its answers."""
        doomed = {
            str(v.version): v.created_at.isoformat()
            for v in keys.versions
            if v.version < below and v.created_at is not None
        }
        if not doomed:
            return
        kept = {str(n): t for n, t in self._retired_times(keys.account_id).items()}
        self._vault.kv_write(_history_path(keys.account_id), {"created": {**kept, **doomed}})

    def rotate(self, account_id: str) -> KeySet:
        """Add a new version; returns the key set after rotation."""
        self.get(account_id)  # a clear AccountNotFound rather than creating by accident
        self._vault.transit_rotate(transit_key_name(account_id))
        return self.get(account_id)

    def schedule(self, account_id: str, every: int) -> KeySet:
        """Have Vault rotate the key every ``every`` seconds (0: stop rotating by itself).

        Vault rotates once the latest version is ``every`` old (its periodic check), so a
        new period applies to the current version's age at once.

        Raises:
            KeyOperationRefused: ``every`` is neither 0 nor at least an hour (Transit's
                own minimum).
        """
        if every != 0 and not MIN_ROTATION_PERIOD <= every <= _MAX_ROTATION_PERIOD:
            raise KeyOperationRefused(
                f"a rotation period is 0 (off) or from {MIN_ROTATION_PERIOD} s (1h) to "
                f"{_MAX_ROTATION_PERIOD} s (100 years); got {every} s"
            )
        self.get(account_id)  # AccountNotFound rather than Vault's bare 404 or a new key
        self._vault.transit_configure(transit_key_name(account_id), auto_rotate_period=every)
        return self.get(account_id)

    def retire(self, account_id: str, below: int) -> KeySet:
        """Refuse decryption for every version below ``below``.

        Raises:
            KeyOperationRefused: ``below`` would retire the latest version, or is lower than
                the current bound (un-retiring is not what this command is for).
        """
        keys = self.get(account_id)
        if below > keys.latest_version:
            raise KeyOperationRefused(
                f"cannot retire the latest version {keys.latest_version}: rotate first "
                f"(--below may be at most {keys.latest_version})"
            )
        if below < keys.min_decryption_version:
            raise KeyOperationRefused(
                f"versions below {keys.min_decryption_version} are already retired"
            )
        if below == keys.min_decryption_version:
            return keys
        self._keep_times(keys, below)
        self._vault.transit_configure(transit_key_name(account_id), min_decryption_version=below)
        return self.get(account_id)

    def decrypt(self, account_id: str, version: int, ciphertext: bytes) -> bytes:
        """Decrypt an RSA-OAEP-256 ``ciphertext`` in Vault with version ``version``.

        Raises:
            TransitDecryptRefused: Vault refused (wrong key, retired or unknown version).
            VaultError: Vault unreachable, sealed or forbidden.
        """
        return self._vault.transit_decrypt(transit_key_name(account_id), version, ciphertext)
