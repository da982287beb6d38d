"""One msgspec document per account in KV v2 under a prefix, read through a cache, written
with check-and-set: what the player's settings and its secrets have in common."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from shared.accounts.document import check_account_id
from shared.errors import AccountConflict, VaultError, VaultNotFound
from shared.identity.errors import PlayerSettingsInvalid
from shared.tokens.cache import TtlCache
from shared.vault import Vault

__all__ = ["KvDocuments"]

D = TypeVar("D", bound=msgspec.Struct)


class KvDocuments(Generic[D]):
    """Documents of type ``kind`` at ``<prefix><account_id>``; ``kind()`` when there is none.

    The cache follows the verifier's (``cache_ttl``, ``cache_stale_if_error``, served stale
    while refreshed): a change in Vault is picked up within the TTL plus the verification
    deadline, and a slow or down Vault does not stop what was seen.
    """

    def __init__(self, vault: Vault, prefix: str, kind: type[D], what: str) -> None:
        self._vault = vault
        self._prefix = prefix
        self._kind = kind
        self._what = what
        settings = vault.settings
        self._cache: TtlCache[str, D] = TtlCache(
            settings.cache_ttl,
            stale_if_error=settings.cache_stale_if_error,
            refresh_ahead=0.75,
            stale_while_revalidate=settings.verification_deadline,
            deadline=settings.verification_deadline,
        )

    def _read(self, account_id: str) -> tuple[D, int]:
        check_account_id(account_id)
        try:
            data, version = self._vault.kv_read(self._prefix + account_id)
        except VaultNotFound:
            return self._kind(), 0
        try:
            return msgspec.convert(data, self._kind), version
        except msgspec.ValidationError as exc:
            raise PlayerSettingsInvalid(
                f"stored {self._what} of {account_id!r} are malformed: {exc}"
            ) from exc

    def get(self, account_id: str) -> D:
        """The account's document, from the cache when fresh (the defaults when none).

        Raises:
            AccountInvalid: a malformed account id.
            PlayerSettingsInvalid: the stored document is malformed.
            VaultError: Vault refused or could not be reached, with nothing cached.
        """
        return self._cache.get(account_id, lambda: self._read(account_id)[0])

    def holds(self, account_id: str) -> bool:
        """Whether :meth:`get` answers now from the cache (no Vault call)."""
        return self._cache.holds(account_id)

    def get_versioned(self, account_id: str) -> tuple[D, int]:
        """The document as stored now (not cached) and its KV version (0: none yet)."""
        return self._read(account_id)

    def _write(self, account_id: str, document: D, *, expected: int) -> None:
        check_account_id(account_id)
        try:
            self._vault.kv_write(
                self._prefix + account_id, msgspec.to_builtins(document), cas=expected
            )
        except VaultError as exc:
            if "check-and-set" in exc.detail:
                raise AccountConflict(f"{self._what} of {account_id!r} changed meanwhile") from exc
            raise
        self._cache.invalidate(account_id)

    def forget(self, account_id: str) -> None:
        """Drop the cached document of ``account_id`` (an account-change announcement)."""
        self._cache.invalidate(account_id)
