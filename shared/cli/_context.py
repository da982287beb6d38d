"""What every tokenctl handler gets: the output channel and a lazily built Vault."""

from __future__ import annotations

from shared.cli._output import Output
from shared.settings import Settings
from shared.vault import Vault

__all__ = ["Context"]


class Context:
    """Per-invocation state; the environment is read only when a command needs Vault."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._vault: Vault | None = None

    def vault(self) -> Vault:
        """The Vault facade configured from ``VAULT_*`` (raises ConfigurationError)."""
        if self._vault is None:
            self._vault = Vault(Settings.from_env())
        return self._vault
