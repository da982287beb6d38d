"""Vault (OpenBao): the only module tree that imports hvac.

:class:`Vault` is the typed, error-mapped facade the services, the player and ``tokenctl``
use; its failures are our :mod:`shared.errors` tree, plus :class:`TransitDecryptRefused`.
"""

from shared.vault.client import Vault
from shared.vault.failures import TransitDecryptRefused
from shared.vault.layout import AUTHZ_SIGNING_KEY

__all__ = ["AUTHZ_SIGNING_KEY", "TransitDecryptRefused", "Vault"]
