"""Secure-token core: accounts, keys, sealing and verification, shared by the services,
the campaign player and ``tokenctl``. Nothing is imported until a name is used,
so ``import shared.client`` (or ``shared.wire``) does not load Vault's client, Redis or the
verifier; and no web framework is ever imported here.

The player's entry point::

    from shared import Vault, Settings, Verifier

    verifier = Verifier(Vault(Settings.from_env()))
    token = verifier.verify(qual_token, account_id="acme", campaign_id="123456")
    token.subject, token.profile

or the module-level :func:`verify` / :func:`verify_async`, configured from the environment
on first use.
"""

from __future__ import annotations

import typing as _typing

from shared import _lazy

if _typing.TYPE_CHECKING:
    from shared.accounts import (
        Account,
        AccountStore,
        CustomerEncryption,
        JwksValidation,
        KeySet,
        KeyStore,
        KeyVersion,
        PublicKey,
        PublicKeyValidation,
        SymmetricValidation,
        TokenPolicy,
        validate_account,
    )
    from shared.errors import (
        AccountConflict,
        AccountError,
        AccountExists,
        AccountInvalid,
        AccountNotFound,
        ConfigurationError,
        JwksRefused,
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
    from shared.tokens import (
        JwksFetcher,
        Limits,
        Sealer,
        VerifiedToken,
        Verifier,
        seal,
        verify,
        verify_async,
    )
    from shared.vault import Vault

#: Each public name and the module that defines it, imported on first use (PEP 562).
_FACE: dict[str, str] = {
    "Account": "shared.accounts",
    "AccountConflict": "shared.errors",
    "AccountError": "shared.errors",
    "AccountExists": "shared.errors",
    "AccountInvalid": "shared.errors",
    "AccountNotFound": "shared.errors",
    "AccountStore": "shared.accounts",
    "ConfigurationError": "shared.errors",
    "CustomerEncryption": "shared.accounts",
    "JwksFetcher": "shared.tokens",
    "JwksRefused": "shared.errors",
    "JwksUnavailable": "shared.errors",
    "JwksValidation": "shared.accounts",
    "KeyOperationRefused": "shared.errors",
    "KeySet": "shared.accounts",
    "KeyStore": "shared.accounts",
    "KeyVersion": "shared.accounts",
    "Limits": "shared.tokens",
    "PublicKey": "shared.accounts",
    "PublicKeyValidation": "shared.accounts",
    "Sealer": "shared.tokens",
    "ServiceError": "shared.errors",
    "Settings": "shared.settings",
    "SymmetricValidation": "shared.accounts",
    "TokenDecryptionFailed": "shared.errors",
    "TokenEmpty": "shared.errors",
    "TokenError": "shared.errors",
    "TokenExpired": "shared.errors",
    "TokenInvalidClaims": "shared.errors",
    "TokenInvalidFormat": "shared.errors",
    "TokenInvalidSignature": "shared.errors",
    "TokenPolicy": "shared.accounts",
    "Vault": "shared.vault",
    "VaultError": "shared.errors",
    "VaultForbidden": "shared.errors",
    "VaultNotFound": "shared.errors",
    "VaultSealed": "shared.errors",
    "VaultUnavailable": "shared.errors",
    "VerificationUnavailable": "shared.errors",
    "VerifiedToken": "shared.tokens",
    "Verifier": "shared.tokens",
    "seal": "shared.tokens",
    "validate_account": "shared.accounts",
    "verify": "shared.tokens",
    "verify_async": "shared.tokens",
}

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
    "JwksRefused",
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

if not _typing.TYPE_CHECKING:  # mypy sees the imports above, and refuses unknown names
    __getattr__, __dir__ = _lazy.face(__name__, _FACE)
