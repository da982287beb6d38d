"""Secure-token core: accounts, keys, sealing and verification, shared by the services,
the campaign player and ``tokenctl``. No web framework is imported here.

The player's entry point::

    from shared import Vault, Settings, Verifier

    verifier = Verifier(Vault(Settings.from_env()))
    token = verifier.verify(qual_token, account_id="acme", campaign_id="123456")
    token.subject, token.profile

or the module-level :func:`verify` / :func:`verify_async`, configured from the environment
on first use.
"""

from shared.accounts.document import (
    Account,
    CustomerEncryption,
    JwksValidation,
    PublicKeyValidation,
    SymmetricValidation,
    TokenPolicy,
    validate_account,
)
from shared.accounts.keys import KeySet, KeyStore, KeyVersion, PublicKey
from shared.accounts.store import AccountStore
from shared.errors import (
    AccountConflict,
    AccountError,
    AccountExists,
    AccountInvalid,
    AccountNotFound,
    ConfigurationError,
    JwksUnavailable,
    KeyOperationRefused,
    ServiceError,
    TokenDecryptionFailed,
    TokenEmpty,
    TokenError,
    TokenExpired,
    TokenInvalidClaims,
    TokenInvalidFormat,
    TokenInvalidSignature,
    VaultError,
    VaultForbidden,
    VaultNotFound,
    VaultSealed,
    VaultUnavailable,
    VerificationUnavailable,
)
from shared.settings import Settings
from shared.tokens.compact import Limits
from shared.tokens.jwks import JwksFetcher
from shared.tokens.sealing import Sealer, seal
from shared.tokens.verification import VerifiedToken, Verifier, verify, verify_async
from shared.vault.client import Vault

__all__ = [
    "Account",
    "AccountConflict",
    "AccountError",
    "AccountExists",
    "AccountInvalid",
    "AccountNotFound",
    "AccountStore",
    "ConfigurationError",
    "CustomerEncryption",
    "JwksFetcher",
    "JwksUnavailable",
    "JwksValidation",
    "KeyOperationRefused",
    "KeySet",
    "KeyStore",
    "KeyVersion",
    "Limits",
    "PublicKey",
    "PublicKeyValidation",
    "Sealer",
    "ServiceError",
    "Settings",
    "SymmetricValidation",
    "TokenDecryptionFailed",
    "TokenEmpty",
    "TokenError",
    "TokenExpired",
    "TokenInvalidClaims",
    "TokenInvalidFormat",
    "TokenInvalidSignature",
    "TokenPolicy",
    "Vault",
    "VaultError",
    "VaultForbidden",
    "VaultNotFound",
    "VaultSealed",
    "VaultUnavailable",
    "VerificationUnavailable",
    "VerifiedToken",
    "Verifier",
    "seal",
    "validate_account",
    "verify",
    "verify_async",
]
