"""Step 3 of DESIGN §2: a JWE we cannot or may not open is ``TOKEN_DECRYPTION_FAILED``:
refused ``alg``/``enc``, a ``kid`` naming another account or an unknown or retired version,
the wrong key, a bad tag or ciphertext (our Transit JWEs and customer-made ones)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import hvac.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe
from joserfc.jwk import OctKey, RSAKey

from shared import Account, KeyStore, Vault, Verifier, seal
from shared.vault import TransitDecryptRefused
from tests.support.tokens import b64, claims, flip, private_key, replace_part, sign, unb64
from tests.support.verification import CAMPAIGN, DECRYPTION, Accounts, encrypt, refused, truncate

# part index -> name: 1 encrypted key, 2 iv, 3 ciphertext, 4 tag
TAMPERED_JWE: dict[str, Callable[[list[str]], tuple[int, str]]] = {
    "flipped-encrypted-key": lambda p: (1, flip(p[1])),
    "truncated-encrypted-key": lambda p: (1, truncate(p[1], 128)),
    "empty-encrypted-key": lambda p: (1, ""),
    "flipped-iv": lambda p: (2, flip(p[2], 0)),
    "truncated-iv": lambda p: (2, truncate(p[2], 8)),
    "empty-iv": lambda p: (2, ""),
    "flipped-ciphertext": lambda p: (3, flip(p[3], 5)),
    "truncated-ciphertext": lambda p: (3, truncate(p[3], 20)),
    "empty-ciphertext": lambda p: (3, ""),
    "flipped-tag": lambda p: (4, flip(p[4])),
    "truncated-tag": lambda p: (4, truncate(p[4], 12)),
    "empty-tag": lambda p: (4, ""),
    "header-changed": lambda p: (0, b64({**json.loads(unb64(p[0])), "x-extra": 1})),
}


@pytest.mark.parametrize("tamper", TAMPERED_JWE.values(), ids=TAMPERED_JWE.keys())
def test_tampered_jwe_is_decryption_failed(
    frozen: Verifier,
    accounts: Accounts,
    sealed: str,
    tamper: Callable[[list[str]], tuple[int, str]],
) -> None:
    """A bit flipped or bytes cut in any part of a sealed JWE is TOKEN_DECRYPTION_FAILED."""
    index, value = tamper(sealed.split("."))
    refused(frozen, replace_part(sealed, index, value), accounts.ec.id, DECRYPTION)


@pytest.mark.parametrize(
    "garbage",
    [secrets.token_bytes(256), b"\x00" * 256, b"\xff" * 256],
    ids=["random-256", "zeros-256", "ones-256"],
)
def test_garbage_rsa_encrypted_key_is_decryption_failed_not_unknown(
    frozen: Verifier, accounts: Accounts, sealed: str, garbage: bytes
) -> None:
    """OpenBao answers a failed RSA decryption with HTTP 500; that is still the token's
    fault (TOKEN_DECRYPTION_FAILED), not a retryable UNKNOWN."""
    error = refused(frozen, replace_part(sealed, 1, b64(garbage)), accounts.ec.id, DECRYPTION)
    vault_error = error.__cause__
    assert isinstance(vault_error, TransitDecryptRefused)
    # The path under test: Transit's 500, which must not be read as an outage.
    assert isinstance(vault_error.__cause__, hvac.exceptions.InternalServerError)


@pytest.mark.parametrize(
    "garbage", [secrets.token_bytes(512), b"\x01", b""], ids=["512-bytes", "one-byte", "empty"]
)
def test_wrong_length_encrypted_key_is_refused_before_vault(
    frozen: Verifier, accounts: Accounts, sealed: str, garbage: bytes
) -> None:
    """An encrypted key that cannot be an RSA-2048 ciphertext is refused without asking
    Vault (junk cannot spend Vault's decrypt capacity)."""
    error = refused(frozen, replace_part(sealed, 1, b64(garbage)), accounts.ec.id, DECRYPTION)
    assert error.__cause__ is None


def test_wrong_length_cek_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore, sealed: str
) -> None:
    """A CEK of the wrong size, wrapped with the account's real public key, is refused."""
    public = serialization.load_pem_public_key(keystore.get(accounts.ec.id).latest.pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = public.encrypt(secrets.token_bytes(16), oaep)
    refused(frozen, replace_part(sealed, 1, b64(wrapped)), accounts.ec.id, DECRYPTION)


def test_jwe_sealed_for_another_account_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore, ec_jws: str
) -> None:
    """A JWE sealed for another existing account (kid ``other/1``) is refused, though the
    very same token verifies for that account."""
    token = seal(ec_jws, keystore.get(accounts.other.id).latest)
    assert frozen.verify(token, account_id=accounts.other.id, campaign_id=CAMPAIGN).encrypted
    assert "another account" in refused(frozen, token, accounts.ec.id, DECRYPTION).detail


def test_jwe_resealed_with_another_accounts_key_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore, ec_jws: str
) -> None:
    """A JWE whose kid names our account but whose key was wrapped for another account's key
    is refused (Transit cannot unwrap it)."""
    other_key = keystore.get(accounts.other.id).latest.jwk()
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": f"{accounts.ec.id}/1", "cty": "JWT"}
    refused(frozen, encrypt(header, ec_jws.encode(), other_key), accounts.ec.id, DECRYPTION)


def _kids(account_id: str) -> dict[str, str | None]:
    return {
        "unknown-version": f"{account_id}/99",
        "huge-version": f"{account_id}/999999999",
        "version-zero": f"{account_id}/0",
        "leading-zero": f"{account_id}/01",
        "negative": f"{account_id}/-1",
        "trailing-newline": f"{account_id}/1\n",
        "leading-space": f" {account_id}/1",
        "extra-segment": f"{account_id}/1/1",
        "uppercase": f"{account_id.upper()}/1",
        "no-version": account_id,
        "other-unknown-account": "nobody/1",
        "path-traversal": f"../{account_id}/1",
        "empty": "",
        "missing": None,
    }


@pytest.mark.parametrize("case", list(_kids("acme")))
def test_bad_kid_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, ec_public: RSAKey, ec_jws: str, case: str
) -> None:
    """A JWE correctly wrapped for our key but whose kid is not exactly ``<account>/<live
    version>`` is TOKEN_DECRYPTION_FAILED."""
    kid = _kids(accounts.ec.id)[case]
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT"}
    if kid is not None:
        header["kid"] = kid
    refused(frozen, encrypt(header, ec_jws.encode(), ec_public), accounts.ec.id, DECRYPTION)


def test_retired_key_version_is_decryption_failed(
    make_account: Callable[..., Account], keystore: KeyStore, vault: Vault
) -> None:
    """After rotation a v1 JWE still opens; once v1 is retired it is TOKEN_DECRYPTION_FAILED,
    while v2 JWEs keep working."""
    account = make_account()
    token = sign(claims(), "ES256", "ec-p256")
    old = seal(token, keystore.get(account.id).latest)
    keystore.rotate(account.id)
    new = seal(token, keystore.get(account.id).latest)
    assert Verifier(vault).verify(old, account_id=account.id, campaign_id=CAMPAIGN).key_version == 1
    keystore.retire(account.id, below=2)
    refused(Verifier(vault), old, account.id, DECRYPTION)
    assert Verifier(vault).verify(new, account_id=account.id, campaign_id=CAMPAIGN).key_version == 2


DISALLOWED_JWE_HEADERS: dict[str, dict[str, Any]] = {
    "RSA1_5": {"alg": "RSA1_5", "enc": "A256GCM"},
    "RSA-OAEP-sha1": {"alg": "RSA-OAEP", "enc": "A256GCM"},
    "RSA-OAEP-384": {"alg": "RSA-OAEP-384", "enc": "A256GCM"},
    "PBES2-huge-p2c": {
        "alg": "PBES2-HS512+A256KW",
        "enc": "A256GCM",
        "p2s": b64(b"salt-salt-salt"),
        "p2c": 2_000_000_000,
    },
    "ECDH-ES": {
        "alg": "ECDH-ES",
        "enc": "A256GCM",
        "epk": private_key("ec-p256-other").as_dict(private=False),
    },
    "ECDH-ES+A256KW": {
        "alg": "ECDH-ES+A256KW",
        "enc": "A256GCM",
        "epk": private_key("ec-p256-other").as_dict(private=False),
    },
    "dir": {"alg": "dir", "enc": "A256GCM"},
    "A256KW": {"alg": "A256KW", "enc": "A256GCM"},
    "A256GCMKW": {
        "alg": "A256GCMKW", "enc": "A256GCM", "iv": b64(bytes(12)), "tag": b64(bytes(16))
    },
    "none": {"alg": "none", "enc": "A256GCM"},
    "signature-alg": {"alg": "ES256", "enc": "A256GCM"},
    "enc-A128GCM": {"alg": "RSA-OAEP-256", "enc": "A128GCM"},
    "enc-A256CBC-HS512": {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512"},
    "enc-unknown": {"alg": "RSA-OAEP-256", "enc": "XC20P"},
}  # fmt: skip


@pytest.mark.parametrize(
    "header", DISALLOWED_JWE_HEADERS.values(), ids=DISALLOWED_JWE_HEADERS.keys()
)
def test_disallowed_jwe_algorithm_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, sealed: str, header: dict[str, Any]
) -> None:
    """A JWE whose alg/enc the account does not allow (no customer key) is refused before any
    key derivation or Vault call."""
    token = replace_part(sealed, 0, b64({**header, "kid": f"{accounts.ec.id}/1"}))
    refused(frozen, token, accounts.ec.id, DECRYPTION)


def test_real_a128gcm_jwe_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, ec_public: RSAKey, ec_jws: str
) -> None:
    """A genuine RSA-OAEP-256 JWE with an enc other than A256GCM is refused."""
    header = {"alg": "RSA-OAEP-256", "enc": "A128GCM", "kid": f"{accounts.ec.id}/1"}
    token = jwe.encrypt_compact(
        header, ec_jws.encode(), ec_public, algorithms=["RSA-OAEP-256", "A128GCM"]
    )
    refused(frozen, token, accounts.ec.id, DECRYPTION)


def handmade_jwe(header: dict[str, Any], plaintext: bytes, public_pem: str) -> str:
    """A JWE built step by step (RFC 7516 §5.1) with A256GCM content, whatever ``enc`` the
    header claims: for headers joserfc would not produce."""
    public = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    cek, iv = secrets.token_bytes(32), secrets.token_bytes(12)
    protected = b64(header)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    parts = [public.encrypt(cek, oaep), iv, sealed[:-16], sealed[-16:]]
    return ".".join([protected, *(b64(part) for part in parts)])


def test_handmade_jwe_verifies(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore, ec_jws: str
) -> None:
    """Baseline for the next test: the hand-made JWE, labelled honestly, verifies."""
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": f"{accounts.ec.id}/1"}
    token = handmade_jwe(header, ec_jws.encode(), keystore.get(accounts.ec.id).latest.pem)
    assert frozen.verify(token, account_id=accounts.ec.id, campaign_id=CAMPAIGN).key_version == 1


def test_jwe_with_mislabelled_enc_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore, ec_jws: str
) -> None:
    """A JWE claiming ``enc: A128CBC-HS256`` (also a 32-byte CEK) is refused even though its
    content is really A256GCM: the pinned enc is checked, not inferred from the key size."""
    header = {"alg": "RSA-OAEP-256", "enc": "A128CBC-HS256", "kid": f"{accounts.ec.id}/1"}
    token = handmade_jwe(header, ec_jws.encode(), keystore.get(accounts.ec.id).latest.pem)
    refused(frozen, token, accounts.ec.id, DECRYPTION)


def _customer_jwe(alg: str, enc: str, key: bytes, plaintext: str) -> str:
    return jwe.encrypt_compact(
        {"alg": alg, "enc": enc, "cty": "JWT"}, plaintext.encode(), OctKey.import_key(key),
        algorithms=[alg, enc],
    )  # fmt: skip


def test_customer_jwe_with_pinned_pair_verifies(
    frozen: Verifier, accounts: Accounts, ec_jws: str
) -> None:
    """Baseline: a JWE the customer made with its pinned A256KW/A256GCM key verifies."""
    token = _customer_jwe("A256KW", "A256GCM", accounts.customer_key, ec_jws)
    result = frozen.verify(token, account_id=accounts.customer.id, campaign_id=CAMPAIGN)
    assert result.encrypted is True
    assert result.key_version is None


def _flip_part(token: str, index: int) -> str:
    return replace_part(token, index, flip(token.split(".")[index]))


CUSTOMER_FAILURES: dict[str, Callable[[bytes, str], str]] = {
    "wrong-key": lambda key, jws: _customer_jwe("A256KW", "A256GCM", bytes(32), jws),
    "other-kw-size": lambda key, jws: _customer_jwe("A128KW", "A256GCM", key[:16], jws),
    "dir-with-same-key": lambda key, jws: _customer_jwe("dir", "A256GCM", key, jws),
    "other-enc": lambda key, jws: _customer_jwe("A256KW", "A128GCM", key, jws),
    "flipped-tag": lambda key, jws: _flip_part(_customer_jwe("A256KW", "A256GCM", key, jws), 4),
    "flipped-wrapped-key": lambda key, jws: _flip_part(
        _customer_jwe("A256KW", "A256GCM", key, jws), 1
    ),
}


@pytest.mark.parametrize("make", CUSTOMER_FAILURES.values(), ids=CUSTOMER_FAILURES.keys())
def test_customer_jwe_failures_are_decryption_failed(
    frozen: Verifier, accounts: Accounts, ec_jws: str, make: Callable[[bytes, str], str]
) -> None:
    """A customer-side JWE with the wrong key, an unpinned alg/enc or a bad tag is refused."""
    refused(frozen, make(accounts.customer_key, ec_jws), accounts.customer.id, DECRYPTION)


def test_customer_jwe_to_account_without_customer_key_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, ec_jws: str
) -> None:
    """A symmetric JWE for an account with no customer encryption key is refused."""
    token = _customer_jwe("A256KW", "A256GCM", accounts.customer_key, ec_jws)
    refused(frozen, token, accounts.ec.id, DECRYPTION)
