"""Player settings in KV v2 at ``player/<account_id>``, read through a cache by the player.

An account with no document yet has the defaults (no parent origins, no campaigns): the
player then serves nothing of it, which is the safe reading of "not set up". Writes are
check-and-set, like the account registry's.
"""

from __future__ import annotations

from shared.identity.kv_documents import KvDocuments
from shared.identity.player_settings import PlayerSettings, validate_player_settings
from shared.vault import Vault

__all__ = ["PLAYER_PREFIX", "PlayerStore"]

PLAYER_PREFIX = "player/"


class PlayerStore(KvDocuments[PlayerSettings]):
    """Read and write accounts' player settings; reads are cached (TTL, stale-if-error)."""

    def __init__(self, vault: Vault) -> None:
        super().__init__(vault, PLAYER_PREFIX, PlayerSettings, "player settings")

    def put(self, account_id: str, settings: PlayerSettings, *, expected: int) -> PlayerSettings:
        """Validate and store ``settings``; ``expected`` is the version they were built
        from (:meth:`get_versioned`; 0 creates).

        Raises:
            PlayerSettingsInvalid: a rule is broken.
            AccountConflict: they changed meanwhile (re-read and retry).
        """
        validate_player_settings(settings)
        self._write(account_id, settings, expected=expected)
        return settings
