"""What the token fuzzers start from: accounts, keys, valid tokens, and the verifier's steps
without Vault.

Shared by the hypothesis properties (``test_properties.py``) and the atheris target
(``atheris_verify.py``). Everything is in memory: accounts are documents, and
:class:`LocalTransit` stands in for Transit's decrypt with a local RSA key (Transit's RSA
encryption is RSA-OAEP-256, DESIGN §10), so :func:`verify_offline` runs every step of
:meth:`shared.tokens.verification.Verifier.verify` but the account lookup, offline and fast.
``test_properties.py`` checks that it agrees with the real verifier.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwe, jws
from joserfc.jwk import OctKey

from shared.accounts.document import (
    Account,
    CustomerEncryption,
    PublicKeyValidation,
    SymmetricValidation,
    validate_account,
)
from shared.accounts.keys import KeyStore, PublicKey
from shared.errors import TokenError, TokenInvalidFormat
from shared.tokens.claims import check_claims
from shared.tokens.compact import parse_compact
from shared.tokens.jwks import JwksFetcher
from shared.tokens.opening import open_jwe
from shared.tokens.sealing import seal
from shared.tokens.signatures import check_signature, static_key
from shared.vault import TransitDecryptRefused
from tests.support.tokens import KEYS, pem, private_key

__all__ = [
    "CAMPAIGN",
    "CODES",
    "HMAC_SECRET",
    "LocalTransit",
    "customer_jwe",
    "local_transit",
    "public_key_account",
    "seed_tokens",
    "signed",
    "symmetric_account",
    "transit_jwe",
    "verify_offline",
]

#: DESIGN §2's codes: what any refused token reports (UNKNOWN: not the token's fault).
CODES: Final = frozenset(
    {
        "TOKEN_EMPTY",
        "TOKEN_INVALID_FORMAT",
        "TOKEN_DECRYPTION_FAILED",
        "TOKEN_INVALID_SIGNATURE",
        "TOKEN_EXPIRED",
        "TOKEN_INVALID_CLAIMS",
        "UNKNOWN",
    }
)
CAMPAIGN: Final = "1001"
#: Fixed key material, so that corpora are reproducible (never use such keys for real).
HMAC_SECRET: Final = bytes(range(64))
CUSTOMER_KEY: Final = bytes(range(100, 132))


def public_key_account(account_id: str = "fuzz-es256") -> Account:
    """An ES256 account (``tests/keys/ec-p256``) that also takes customer JWEs (A256KW)."""
    return validate_account(
        Account(
            id=account_id,
            validation=PublicKeyValidation(algorithms=("ES256",), public_key_pem=pem("ec-p256")),
            customer_encryption=CustomerEncryption(alg="A256KW", enc="A256GCM", key=CUSTOMER_KEY),
        )
    )


def symmetric_account(account_id: str = "fuzz-hs256") -> Account:
    """An HS256 account that also takes customer JWEs (``dir`` + A256GCM)."""
    return validate_account(
        Account(
            id=account_id,
            validation=SymmetricValidation(algorithms=("HS256",), secret=HMAC_SECRET),
            customer_encryption=CustomerEncryption(alg="dir", enc="A256GCM", key=CUSTOMER_KEY),
        )
    )


def signed(account: Account, claims: dict[str, Any], **header: Any) -> str:
    """A JWS of ``claims`` signed for ``account`` (its first algorithm, its test key).

    Infinities are written ``1e400``, as a customer's JSON library may: JSON has no
    Infinity, but that is what a JSON reader makes of it.
    """
    alg = account.validation.algorithms[0]
    key: Any = OctKey.import_key(HMAC_SECRET) if alg.startswith("HS") else private_key("ec-p256")
    text = json.dumps(_mark_infinities(claims))
    text = text.replace(json.dumps(_INF), "1e400").replace(json.dumps(_MINUS_INF), "-1e400")
    return jws.serialize_compact({"alg": alg, "typ": "JWT", **header}, text, key, algorithms=[alg])


_INF, _MINUS_INF = "\x00+inf\x00", "\x00-inf\x00"


def _mark_infinities(value: Any) -> Any:
    if isinstance(value, float) and value in (float("inf"), -float("inf")):
        return _INF if value > 0 else _MINUS_INF
    if isinstance(value, dict):
        return {k: _mark_infinities(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_infinities(v) for v in value]
    return value


def customer_jwe(jws: str | bytes, account: Account) -> str:
    """``jws`` (or any content) encrypted on the customer's side with the account's key."""
    ce = account.customer_encryption
    assert ce is not None
    return jwe.encrypt_compact(
        {"alg": ce.alg, "enc": ce.enc, "cty": "JWT"},
        jws.encode("ascii") if isinstance(jws, str) else jws,
        OctKey.import_key(ce.key),
        algorithms=[ce.alg, ce.enc],
    )


def transit_jwe(jws: str, account_id: str, version: int = 1, public_pem: str | None = None) -> str:
    """``jws`` sealed as the Crypto API does (RSA-OAEP-256 + A256GCM, ``kid`` account/version);
    by default for :class:`LocalTransit`'s key."""
    return seal(jws, PublicKey(account_id, version, public_pem or pem("rsa-2048")))


class LocalTransit(KeyStore):
    """Transit's decrypt, in memory: key version 1 of every account is ``tests/keys/rsa-2048``.

    What Transit refuses (another version, bytes that do not decrypt) raises
    :class:`~shared.vault.TransitDecryptRefused`, as :meth:`KeyStore.decrypt` does.
    """

    def __init__(self) -> None:  # no Vault: only decrypt is used, by shared.tokens.opening
        private = serialization.load_pem_private_key(
            (KEYS / "rsa-2048-private.pem").read_bytes(), password=None
        )
        assert isinstance(private, rsa.RSAPrivateKey)
        self._private = private

    def decrypt(self, account_id: str, version: int, ciphertext: bytes) -> bytes:
        if version != 1:
            raise TransitDecryptRefused(f"no version {version} of {account_id}'s key")
        try:
            return self._private.decrypt(
                ciphertext,
                padding.OAEP(
                    mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
                ),
            )
        except ValueError as exc:
            raise TransitDecryptRefused("decryption failed") from exc


@functools.cache
def _no_jwks() -> JwksFetcher:
    # The in-memory accounts validate with a PEM or a secret: it is never asked.
    return JwksFetcher()


@functools.cache
def local_transit() -> LocalTransit:
    """One :class:`LocalTransit` (loading an RSA private key takes milliseconds)."""
    return LocalTransit()


def verify_offline(
    token: object,
    account: Account,
    *,
    campaign_id: str | int | None = CAMPAIGN,
    keys: KeyStore | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """:meth:`Verifier.verify`'s steps in its order, for an account given in memory; returns
    the verified claims.

    Raises:
        TokenError: as :meth:`Verifier.verify` (never ``UNKNOWN``: nothing here is remote).
    """
    outer = parse_compact(token)
    jws = outer
    if outer.is_jwe:
        plaintext, _ = open_jwe(outer, account, keys or local_transit())
        try:
            jws = parse_compact(plaintext)
        except TokenError as exc:  # empty content too: not a JWS, so a format error
            raise TokenInvalidFormat(f"the JWE does not contain a JWS: {exc.detail}") from exc
        if jws.is_jwe:
            raise TokenInvalidFormat("a JWE inside a JWE is not accepted")
    check_signature(jws, account, static_key(account), _no_jwks())
    claims = jws.payload or {}
    check_claims(
        claims,
        account=account,
        campaign_id=campaign_id,
        now=time.time() if now is None else now,
    )
    return claims


def seed_tokens(now: int | None = None) -> list[str]:
    """Valid tokens of every shape for both in-memory accounts, and a few refused ones: the
    starting corpus of the coverage-guided fuzzer."""
    now = int(time.time()) if now is None else now
    claims = {"sub": "participant-42", "campaignId": CAMPAIGN, "iat": now, "exp": now + 3600}
    rich = {
        **claims,
        "campaignId": 1001,
        "profile": {"firstname": "Ada", "email": "ada@example.com", "birthdate": "1815-12-10"},
        "gift": {"label": "T-shirt", "cw": True},
        "limit": {"nb": 1, "canPlay": True},
    }
    tokens: list[str] = []
    for account in (public_key_account(), symmetric_account()):
        for body in (claims, rich):
            jws = signed(account, body)
            tokens += [jws, customer_jwe(jws, account), transit_jwe(jws, account.id)]
        tokens.append(signed(account, {**claims, "exp": now - 7200}))
        tokens.append(signed(account, {"campaignId": CAMPAIGN}))
    tokens.append(json.dumps({"not": "a token"}))
    return tokens
