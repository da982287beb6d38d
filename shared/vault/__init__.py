"""Vault (OpenBao): the only package that imports hvac."""

from shared.vault.client import Vault

__all__ = ["Vault"]
