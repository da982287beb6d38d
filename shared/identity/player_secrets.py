"""An account's player secrets in KV v2 at ``player-secrets/accounts/<account_id>``: the SSO
client secret, the webhook signing secret and the webhook auth header's value.

Apart from the settings (``player/<id>``) so that a read of the settings, a ``player show``
or a log of them never holds a secret; written by the admin (``tokenctl player set``), read
by the player. Never printed back: ``describe`` says which are set, not what they are.
"""

from __future__ import annotations

import msgspec

from shared.identity.kv_documents import KvDocuments
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


class PlayerSecretsStore(KvDocuments[PlayerSecrets]):
    """Read and write accounts' player secrets; the player's reads are cached (TTL,
    stale-if-error), as its settings are."""

    def __init__(self, vault: Vault) -> None:
        super().__init__(vault, SECRETS_PREFIX, PlayerSecrets, "player secrets")

    def put(self, account_id: str, secrets: PlayerSecrets, *, expected: int) -> None:
        """Store ``secrets``; ``expected`` is the version they were built from.

        Raises:
            AccountConflict: they changed meanwhile (re-read and retry).
        """
        self._write(account_id, secrets, expected=expected)
