"""What the tests of DESIGN §2's verification steps share (tests/shared/tokens/verification/):
the codes spelt out, a frozen clock, and makers of hand-built tokens."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any, NamedTuple

import pytest
from joserfc import jwe
from joserfc.jwk import RSAKey

from shared import (
    Account,
    AccountStore,
    JwksRefused,
    JwksValidation,
    TokenDecryptionFailed,
    TokenEmpty,
    TokenError,
    TokenExpired,
    TokenInvalidClaims,
    TokenInvalidFormat,
    TokenInvalidSignature,
    VerificationUnavailable,
    Verifier,
)
from tests.support.tokens import b64, claims, unb64

#: DESIGN §2's codes, spelt out here so that a renamed code fails these tests.
CODES: dict[str, type[TokenError]] = {
    "TOKEN_EMPTY": TokenEmpty,
    "TOKEN_INVALID_FORMAT": TokenInvalidFormat,
    "TOKEN_DECRYPTION_FAILED": TokenDecryptionFailed,
    "TOKEN_INVALID_SIGNATURE": TokenInvalidSignature,
    "TOKEN_EXPIRED": TokenExpired,
    "TOKEN_INVALID_CLAIMS": TokenInvalidClaims,
    "UNKNOWN": VerificationUnavailable,
    # Issue 13: the account's JWKS endpoint refuses us (a 4xx, a redirect); not retryable.
    "JWKS_REFUSED": JwksRefused,
}
EMPTY, FORMAT, DECRYPTION = "TOKEN_EMPTY", "TOKEN_INVALID_FORMAT", "TOKEN_DECRYPTION_FAILED"
SIGNATURE, EXPIRED, CLAIMS = "TOKEN_INVALID_SIGNATURE", "TOKEN_EXPIRED", "TOKEN_INVALID_CLAIMS"
UNKNOWN = "UNKNOWN"

NOW = 1_800_000_000
CAMPAIGN = "1001"
TRANSIT = ["RSA-OAEP-256", "A256GCM"]
HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def refused(
    verifier: Verifier,
    token: object,
    account_id: str,
    code: str,
    campaign_id: str | int = CAMPAIGN,
) -> TokenError:
    """Verify ``token`` expecting exactly the error class of ``code``; return the error."""
    error = CODES[code]
    with pytest.raises(error) as info:
        verifier.verify(token, account_id=account_id, campaign_id=campaign_id)
    assert type(info.value) is error
    assert info.value.code == code
    assert info.value.retryable is (code == UNKNOWN)
    return info.value


def hs_sign(
    header: dict[str, Any] | str, payload: dict[str, Any] | str, secret: bytes, alg: str = "HS256"
) -> str:
    """An HMAC JWS made by hand (joserfc refuses some headers and PEM secrets we need)."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), HASHES[alg]).digest()
    return f"{signing_input}.{b64(mac)}"


def at_now(**extra: Any) -> dict[str, Any]:
    """Valid claims for the frozen clock ``NOW``; ``None`` values drop a claim."""
    return claims(CAMPAIGN, **{"iat": NOW - 10, "exp": NOW + 3600, **extra})


def encrypt(header: dict[str, Any], plaintext: bytes, key: RSAKey) -> str:
    """A compact JWE with an arbitrary protected header, as anyone with the public key can."""
    return jwe.encrypt_compact(header, plaintext, key, algorithms=TRANSIT)


class Accounts(NamedTuple):
    ec: Account  # ES256, ec-p256
    rsa: Account  # RS256, rsa-2048
    hmac: Account  # HS256
    other: Account  # ES256 with the same ec-p256 key: our tokens are valid for it too
    customer: Account  # ES256 + customer-side JWE A256KW/A256GCM
    secret: bytes
    customer_key: bytes


def truncate(segment: str, keep: int) -> str:
    """``segment`` (base64url) cut to its first ``keep`` bytes."""
    return b64(unb64(segment)[:keep])


def jwks_account(store: AccountStore, uri: str) -> Account:
    """A JWKS account (ES256) on ``uri``, with a fresh id."""
    validation = JwksValidation(algorithms=("ES256",), jwks_uri=uri)
    return store.create(Account(id=f"jwks-{uuid.uuid4().hex[:10]}", validation=validation))
