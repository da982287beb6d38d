"""Acceptance: our JWEs are standard JOSE, checked against an independent library (jwcrypto).

(a) a JWE we seal opens with jwcrypto given the Transit private key (exported from an
exportable test key); (b) customer-made JWEs with the account's shared key verify; (c) a JWE
jwcrypto makes with the account's Transit public key verifies.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from shared import (
    Account,
    CustomerEncryption,
    KeyStore,
    Sealer,
    Settings,
    TokenDecryptionFailed,
    Vault,
    Verifier,
)
from tests.support.tokens import claims, sign


def _encrypt(plaintext: str, key: jwcrypto_jwk.JWK, alg: str, enc: str, **header: str) -> str:
    """A compact JWE made by jwcrypto (the customer's side)."""
    protected = json.dumps({"alg": alg, "enc": enc, "cty": "JWT", **header})
    token = jwcrypto_jwe.JWE(plaintext.encode(), protected=protected)
    token.add_recipient(key)
    return str(token.serialize(compact=True))


def _oct(key: bytes) -> jwcrypto_jwk.JWK:
    return jwcrypto_jwk.JWK.from_json(
        json.dumps({"kty": "oct", "k": jwcrypto_jwk.base64url_encode(key)})
    )


def test_our_jwe_opens_with_jwcrypto(
    make_account: Callable[..., Account],
    keystore: KeyStore,
    vault: Vault,
    settings: Settings,
    make_exportable: Callable[[str], None],
) -> None:
    """jwcrypto, given the Transit private key, decrypts our JWE back to the original JWS."""
    account = make_account()
    make_exportable(account.id)
    jws = sign(claims(), "ES256", "ec-p256")
    sealed = Sealer(keystore, settings).seal(account.id, jws)

    private_pem = vault.transit_export(f"account-{account.id}", "encryption-key", 1)
    key = jwcrypto_jwk.JWK.from_pem(private_pem.encode())
    token = jwcrypto_jwe.JWE()
    token.deserialize(sealed, key=key)

    assert token.payload.decode() == jws
    header = json.loads(token.objects["protected"])
    assert header == {
        "alg": "RSA-OAEP-256",
        "enc": "A256GCM",
        "cty": "JWT",
        "kid": f"{account.id}/1",
    }


@pytest.mark.parametrize(
    "pair",
    [("A256KW", "A256GCM", 32), ("dir", "A256GCM", 32), ("A128KW", "A128CBC-HS256", 16)],
    ids=["a256kw-a256gcm", "dir-a256gcm", "a128kw-a128cbc-hs256"],
)
@pytest.mark.parametrize("algorithm", ["ES256", "HS256"], ids=["es256", "hs256"])
def test_customer_jwe_verifies(
    make_account: Callable[..., Account],
    verifier: Verifier,
    hmac_secret: bytes,
    pair: tuple[str, str, int],
    algorithm: str,
) -> None:
    """A JWE the customer made with jwcrypto and the account's pinned key and pair verifies."""
    alg, enc, size = pair
    key = secrets.token_bytes(size)
    ce = CustomerEncryption(alg=alg, enc=enc, key=key)
    if algorithm == "HS256":
        account = make_account(
            "symmetric", algorithms=(algorithm,), secret=hmac_secret, customer_encryption=ce
        )
        jws = sign(claims(), algorithm, hmac_secret)
    else:
        account = make_account(algorithms=(algorithm,), customer_encryption=ce)
        jws = sign(claims(), algorithm, "ec-p256")

    token = _encrypt(jws, _oct(key), alg, enc)
    result = verifier.verify(token, account_id=account.id, campaign_id="1001")
    assert result.encrypted is True
    assert result.key_version is None
    assert result.algorithm == algorithm
    assert result.subject == "participant-42"


@pytest.mark.parametrize(
    ("alg", "enc"),
    [("dir", "A256GCM"), ("A256KW", "A128CBC-HS256"), ("A256KW", "A256CBC-HS512"),
     ("A256GCMKW", "A256GCM")],
    ids=["dir-same-key", "other-enc", "other-enc-cbc512", "gcmkw"],
)  # fmt: skip
def test_customer_jwe_with_another_pair_is_refused(
    make_account: Callable[..., Account], verifier: Verifier, alg: str, enc: str
) -> None:
    """Only the pinned alg/enc pair is accepted, even when the same key could open the token."""
    key = secrets.token_bytes(32)
    account = make_account(
        customer_encryption=CustomerEncryption(alg="A256KW", enc="A256GCM", key=key)
    )
    token = _encrypt(sign(claims(), "ES256", "ec-p256"), _oct(key), alg, enc)
    with pytest.raises(TokenDecryptionFailed) as caught:
        verifier.verify(token, account_id=account.id, campaign_id="1001")
    assert caught.value.code == "TOKEN_DECRYPTION_FAILED"


def test_customer_jwe_with_another_key_is_refused(
    make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """A customer JWE made with a key other than the account's cannot be opened."""
    ce = CustomerEncryption(alg="A256KW", enc="A256GCM", key=secrets.token_bytes(32))
    account = make_account(customer_encryption=ce)
    token = _encrypt(
        sign(claims(), "ES256", "ec-p256"), _oct(secrets.token_bytes(32)), "A256KW", "A256GCM"
    )
    with pytest.raises(TokenDecryptionFailed) as caught:
        verifier.verify(token, account_id=account.id, campaign_id="1001")
    assert caught.value.code == "TOKEN_DECRYPTION_FAILED"


def test_customer_jwe_for_account_without_customer_key(
    make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """An account with no customer encryption key refuses symmetric JWEs."""
    account = make_account()
    key = secrets.token_bytes(32)
    token = _encrypt(sign(claims(), "ES256", "ec-p256"), _oct(key), "A256KW", "A256GCM")
    with pytest.raises(TokenDecryptionFailed):
        verifier.verify(token, account_id=account.id, campaign_id="1001")


def test_jwcrypto_jwe_with_transit_public_key_verifies(
    make_account: Callable[..., Account], keystore: KeyStore, verifier: Verifier
) -> None:
    """A JWE jwcrypto makes with the account's Transit public key (RSA-OAEP-256) verifies."""
    account = make_account()
    public = keystore.get(account.id).latest
    key = jwcrypto_jwk.JWK.from_pem(public.pem.encode())
    token = _encrypt(
        sign(claims(), "ES256", "ec-p256"), key, "RSA-OAEP-256", "A256GCM", kid=public.kid
    )
    result = verifier.verify(token, account_id=account.id, campaign_id="1001")
    assert result.encrypted is True
    assert result.key_version == 1
    assert result.subject == "participant-42"


@pytest.mark.parametrize(
    ("alg", "enc"),
    [("RSA-OAEP", "A256GCM"), ("RSA-OAEP-256", "A128CBC-HS256")],
    ids=["rsa-oaep-sha1", "cbc-content"],
)
def test_jwcrypto_jwe_with_transit_key_but_other_algorithms(
    make_account: Callable[..., Account],
    keystore: KeyStore,
    verifier: Verifier,
    alg: str,
    enc: str,
) -> None:
    """With the Transit public key only RSA-OAEP-256 + A256GCM is accepted."""
    account = make_account()
    public = keystore.get(account.id).latest
    key = jwcrypto_jwk.JWK.from_pem(public.pem.encode())
    token = _encrypt(sign(claims(), "ES256", "ec-p256"), key, alg, enc, kid=public.kid)
    with pytest.raises(TokenDecryptionFailed) as caught:
        verifier.verify(token, account_id=account.id, campaign_id="1001")
    assert caught.value.code == "TOKEN_DECRYPTION_FAILED"


def test_jwcrypto_jwe_for_another_account_is_refused(
    make_account: Callable[..., Account], keystore: KeyStore, verifier: Verifier
) -> None:
    """A JWE for account B, presented for account A, is refused by its kid before any decrypt."""
    ours = make_account()
    theirs = make_account(id=f"{ours.id}-other")
    public = keystore.get(theirs.id).latest
    key = jwcrypto_jwk.JWK.from_pem(public.pem.encode())
    token = _encrypt(
        sign(claims(), "ES256", "ec-p256"), key, "RSA-OAEP-256", "A256GCM", kid=public.kid
    )
    with pytest.raises(TokenDecryptionFailed) as caught:
        verifier.verify(token, account_id=ours.id, campaign_id="1001")
    assert "another account" in caught.value.detail
    assert verifier.verify(token, account_id=theirs.id, campaign_id="1001").key_version == 1
