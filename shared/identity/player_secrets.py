"""An account's player secrets in KV v2 at ``player-secrets/accounts/<account_id>``: the SSO
client secret, the webhook signing secret and the webhook auth header's value.

Apart from the settings (``player/<id>``) so that a read of the settings, a ``player show``
or a log of them never holds a secret; written by the admin (``tokenctl player set``), read
by the player. Never printed back: ``describe`` says which are set, not what they are.
"""

from __future__ import annotations

import msgspec

from shared.accounts.document import check_account_id
from shared.errors import AccountConflict, VaultError, VaultNotFound
from shared.identity.errors import PlayerSettingsInvalid
from shared.tokens.cache import TtlCache
from shared.vault import Vault

__all__ = ["SECRETS_PREFIX", "PlayerSecrets", "PlayerSecretsStore"]

SECRETS_PREFIX = "player-secrets/accounts/"


class PlayerSecrets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The secrets of an account's player settings (each None until given)."""

    sso_client_secret: str | None = None
    #: Standard Webhooks' ``whsec_<base64>`` form.
    webhook_secret: str | None = None
    webhook_auth_value: str | None = None

    def __repr__(self) -> str:
        # A secret must not reach a log or a traceback through repr().
        return f"PlayerSecrets(set={self.names()})"

    def names(self) -> list[str]:
        """Which secrets are set (for ``player show``)."""
        return [name for name in self.__struct_fields__ if getattr(self, name) is not None]


class PlayerSecretsStore:
    """Read and write accounts' player secrets; the player's reads are cached (TTL,
    stale-if-error), as its settings are."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        settings = vault.settings
        self._cache: TtlCache[str, PlayerSecrets] = TtlCache(
            settings.cache_ttl, stale_if_error=settings.cache_stale_if_error, refresh_ahead=0.75
        )

    def _read(self, account_id: str) -> tuple[PlayerSecrets, int]:
        check_account_id(account_id)
        try:
            data, version = self._vault.kv_read(SECRETS_PREFIX + account_id)
        except VaultNotFound:
            return PlayerSecrets(), 0
        try:
            return msgspec.convert(data, PlayerSecrets), version
        except msgspec.ValidationError as exc:
            raise PlayerSettingsInvalid(
                f"stored player secrets of {account_id!r} are malformed: {exc}"
            ) from exc

    def get(self, account_id: str) -> PlayerSecrets:
        """The account's secrets, from the cache when fresh (none set when no document).

        Raises:
            PlayerSettingsInvalid: the stored document is malformed.
            VaultError: Vault refused or could not be reached, with nothing cached.
        """
        return self._cache.get(account_id, lambda: self._read(account_id)[0])

    def get_versioned(self, account_id: str) -> tuple[PlayerSecrets, int]:
        """The secrets as stored now (not cached) and their KV version (0: none yet)."""
        return self._read(account_id)

    def put(self, account_id: str, secrets: PlayerSecrets, *, expected: int) -> None:
        """Store ``secrets``; ``expected`` is the version they were built from.

        Raises:
            AccountConflict: they changed meanwhile (re-read and retry).
        """
        check_account_id(account_id)
        try:
            self._vault.kv_write(
                SECRETS_PREFIX + account_id, msgspec.to_builtins(secrets), cas=expected
            )
        except VaultError as exc:
            if "check-and-set" in exc.detail:
                raise AccountConflict(
                    f"player secrets of {account_id!r} changed meanwhile"
                ) from exc
            raise
        self._cache.invalidate(account_id)
