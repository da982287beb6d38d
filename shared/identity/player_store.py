"""Player settings in KV v2 at ``player/<account_id>``, read through a cache by the player.

An account with no document yet has the defaults (no parent origins, no campaigns): the
player then serves nothing of it, which is the safe reading of "not set up". Writes are
check-and-set, like the account registry's.
"""

from __future__ import annotations

import msgspec

from shared.accounts.document import check_account_id
from shared.errors import AccountConflict, VaultError, VaultNotFound
from shared.identity.errors import PlayerSettingsInvalid
from shared.identity.player_settings import PlayerSettings, validate_player_settings
from shared.tokens.cache import TtlCache
from shared.vault import Vault

__all__ = ["PLAYER_PREFIX", "PlayerStore"]

PLAYER_PREFIX = "player/"


class PlayerStore:
    """Read and write accounts' player settings; reads are cached (TTL, stale-if-error).

    The cache follows the verifier's (``cache_ttl``, ``cache_stale_if_error``): a setting
    changed in Vault is picked up within the TTL, and a Vault outage does not stop the
    campaigns already seen.
    """

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        settings = vault.settings
        self._cache: TtlCache[str, PlayerSettings] = TtlCache(
            settings.cache_ttl, stale_if_error=settings.cache_stale_if_error, refresh_ahead=0.75
        )

    def _read(self, account_id: str) -> tuple[PlayerSettings, int]:
        check_account_id(account_id)
        try:
            data, version = self._vault.kv_read(PLAYER_PREFIX + account_id)
        except VaultNotFound:
            return PlayerSettings(), 0
        try:
            return msgspec.convert(data, PlayerSettings), version
        except msgspec.ValidationError as exc:
            raise PlayerSettingsInvalid(
                f"stored player settings of {account_id!r} are malformed: {exc}"
            ) from exc

    def get(self, account_id: str) -> PlayerSettings:
        """The account's settings, from the cache when fresh (the defaults when none).

        Raises:
            AccountInvalid: a malformed account id.
            PlayerSettingsInvalid: the stored document is malformed.
            VaultError: Vault refused or could not be reached, with nothing cached.
        """
        return self._cache.get(account_id, lambda: self._read(account_id)[0])

    def holds(self, account_id: str) -> bool:
        """Whether :meth:`get` answers now from the cache (no Vault call)."""
        return self._cache.holds(account_id)

    def get_versioned(self, account_id: str) -> tuple[PlayerSettings, int]:
        """The settings as stored now (not cached) and their KV version (0: none yet)."""
        return self._read(account_id)

    def put(self, account_id: str, settings: PlayerSettings, *, expected: int) -> PlayerSettings:
        """Validate and store ``settings``; ``expected`` is the version they were built
        from (:meth:`get_versioned`; 0 creates).

        Raises:
            PlayerSettingsInvalid: a rule is broken.
            AccountConflict: they changed meanwhile (re-read and retry).
        """
        check_account_id(account_id)
        validate_player_settings(settings)
        try:
            self._vault.kv_write(
                PLAYER_PREFIX + account_id, msgspec.to_builtins(settings), cas=expected
            )
        except VaultError as exc:
            if "check-and-set" in exc.detail:
                raise AccountConflict(
                    f"player settings of {account_id!r} changed meanwhile"
                ) from exc
            raise
        self._cache.invalidate(account_id)
        return settings

    def forget(self, account_id: str) -> None:
        """Drop the cached settings of ``account_id`` (an account-change announcement)."""
        self._cache.invalidate(account_id)
