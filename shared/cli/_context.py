"""What every tokenctl handler gets: the output channel and a lazily built Vault."""

from __future__ import annotations

from pathlib import Path

from shared.cli._output import Output
from shared.errors import ServiceError, VaultForbidden, VerificationUnavailable
from shared.settings import Settings
from shared.vault import Vault

__all__ = ["NO_CREDENTIALS_HINT", "Context"]

#: Appended to a Vault refusal when tokenctl had no credentials to give (a new user's shell
#: without the dev stack's environment, most often).
NO_CREDENTIALS_HINT = (
    " (no Vault credentials were found: neither VAULT_TOKEN nor VAULT_ROLE_ID + "
    "VAULT_SECRET_ID, nor their *_FILE forms, is set. After `tokenctl up`, run "
    "`source .data/env` (it sets VAULT_ADDR and VAULT_TOKEN); otherwise set the VAULT_* "
    'variables, see README "Configuration")'
)


class Context:
    """Per-invocation state; the environment is read only when a command needs Vault."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._vault: Vault | None = None
        self._settings: Settings | None = None

    def vault(self) -> Vault:
        """The Vault facade configured from ``VAULT_*`` (raises ConfigurationError)."""
        if self._vault is None:
            self._settings = Settings.from_env()
            self._vault = Vault(self._settings)
        return self._vault

    def explain(self, exc: ServiceError) -> ServiceError:
        """``exc``, or the same refusal with a hint when its cause is plain from here:
        Vault refused a caller that had no credentials at all."""
        s = self._settings
        credentials = s is not None and (s.vault_token or s.vault_role_id or s.vault_secret_id)
        # Without a token hvac falls back to ~/.vault-token (`bao login` writes it): then a
        # refusal is that token's, and "none found" would mislead.
        token_file = (Path.home() / ".vault-token").exists()
        if s is None or credentials or token_file:
            return exc
        if isinstance(exc, VaultForbidden):
            return VaultForbidden(exc.detail + NO_CREDENTIALS_HINT)
        if isinstance(exc, VerificationUnavailable) and isinstance(exc.__cause__, VaultForbidden):
            # `token verify`: not "retry later" (exit 3): no retry helps without credentials.
            return VaultForbidden(
                f"cannot verify: Vault refused to read the account ({exc.__cause__.detail})"
                + NO_CREDENTIALS_HINT
            )
        return exc
