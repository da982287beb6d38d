"""The account document (how a customer's tokens are checked and sealed), its store in
Vault KV, and the per-account Transit keys."""

from shared.accounts.document import (
    Account,
    CustomerEncryption,
    JwksValidation,
    PublicKeyValidation,
    SymmetricValidation,
    TokenPolicy,
    Validation,
    validate_account,
)
from shared.accounts.keys import KeySet, KeyStore, KeyVersion, PublicKey
from shared.accounts.store import AccountStore

__all__ = [
    "Account",
    "AccountStore",
    "CustomerEncryption",
    "JwksValidation",
    "KeySet",
    "KeyStore",
    "KeyVersion",
    "PublicKey",
    "PublicKeyValidation",
    "SymmetricValidation",
    "TokenPolicy",
    "Validation",
    "validate_account",
]
