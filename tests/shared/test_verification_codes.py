"""``Verifier.verify`` against a real OpenBao: each row of DESIGN §2's error-code table.

Every test builds a realistic token (signed by joserfc or by hand, sealed with the account's
real Transit public key) and checks both the exception class and its ``code``. Checks run
in the table's order and the first failure wins, so several tests combine two faults and
expect the earlier step's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import hvac.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe
from joserfc.jwk import OctKey, RSAKey

from shared import (
    Account,
    AccountStore,
    CustomerEncryption,
    JwksValidation,
    KeyStore,
    PublicKeyValidation,
    Settings,
    SymmetricValidation,
    TokenDecryptionFailed,
    TokenEmpty,
    TokenError,
    TokenExpired,
    TokenInvalidClaims,
    TokenInvalidFormat,
    TokenInvalidSignature,
    TokenPolicy,
    Vault,
    VerificationUnavailable,
    Verifier,
    seal,
)
from shared.ops.bootstrap import bootstrap
from shared.vault.client import TransitDecryptRefused
from tests.support.jwks_server import JwksServer
from tests.support.openbao import DevServer, free_port
from tests.support.tokens import b64, claims, flip, pem, private_key, replace_part, sign, unb64

#: DESIGN §2's codes, spelt out here so that a renamed code fails these tests.
CODES: dict[str, type[TokenError]] = {
    "TOKEN_EMPTY": TokenEmpty,
    "TOKEN_INVALID_FORMAT": TokenInvalidFormat,
    "TOKEN_DECRYPTION_FAILED": TokenDecryptionFailed,
    "TOKEN_INVALID_SIGNATURE": TokenInvalidSignature,
    "TOKEN_EXPIRED": TokenExpired,
    "TOKEN_INVALID_CLAIMS": TokenInvalidClaims,
    "UNKNOWN": VerificationUnavailable,
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


@pytest.fixture(scope="module")
def accounts(vault: Vault) -> Accounts:
    """Accounts the tests only read, created once for the module."""
    store = AccountStore(vault)
    tag = uuid.uuid4().hex[:8]
    secret = secrets.token_bytes(64)
    customer_key = secrets.token_bytes(32)

    def public(name: str, alg: str, key: str, **fields: Any) -> Account:
        validation = PublicKeyValidation(algorithms=(alg,), public_key_pem=pem(key))
        return store.create(Account(id=f"{name}-{tag}", validation=validation, **fields))

    return Accounts(
        ec=public("ec", "ES256", "ec-p256"),
        rsa=public("rsa", "RS256", "rsa-2048"),
        hmac=store.create(
            Account(
                id=f"hmac-{tag}",
                validation=SymmetricValidation(algorithms=("HS256",), secret=secret),
            )
        ),
        other=public("other", "ES256", "ec-p256"),
        customer=public(
            "cust",
            "ES256",
            "ec-p256",
            customer_encryption=CustomerEncryption(alg="A256KW", enc="A256GCM", key=customer_key),
        ),
        secret=secret,
        customer_key=customer_key,
    )


@pytest.fixture
def frozen(vault: Vault) -> Verifier:
    """A verifier whose clock is stuck at ``NOW``."""
    return Verifier(vault, clock=lambda: NOW)


@pytest.fixture
def ec_jws() -> str:
    """A valid ES256 token for the ``ec`` account at ``NOW``."""
    return sign(at_now(), "ES256", "ec-p256")


@pytest.fixture
def sealed(accounts: Accounts, keystore: KeyStore, ec_jws: str) -> str:
    """``ec_jws`` sealed for the ``ec`` account with its latest Transit key."""
    return seal(ec_jws, keystore.get(accounts.ec.id).latest)


@pytest.fixture
def ec_public(accounts: Accounts, keystore: KeyStore) -> RSAKey:
    """The ``ec`` account's Transit public key (what any customer may encrypt with)."""
    return keystore.get(accounts.ec.id).latest.jwk()


# -- the table itself -----------------------------------------------------------------------


def test_contract_codes_match_the_error_tree() -> None:
    """The library's token errors carry exactly DESIGN §2's codes, one class per code."""
    assert {cls.code: cls for cls in TokenError.__subclasses__()} == CODES


def test_valid_tokens_pass(frozen: Verifier, accounts: Accounts, ec_jws: str, sealed: str) -> None:
    """Baseline for every test below: the untampered JWS and JWE verify."""
    assert frozen.verify(ec_jws, account_id=accounts.ec.id, campaign_id=CAMPAIGN).encrypted is False
    result = frozen.verify(sealed, account_id=accounts.ec.id, campaign_id=CAMPAIGN)
    assert result.encrypted is True
    assert result.key_version == 1


# -- TOKEN_EMPTY ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", [None, "", "   ", "\n\t"], ids=["none", "empty", "spaces", "newline-tab"]
)
@pytest.mark.parametrize("account", ["ec", "unknown"])
def test_no_token_is_empty(
    verifier: Verifier, accounts: Accounts, token: object, account: str
) -> None:
    """No token, or whitespace only, is TOKEN_EMPTY, whatever the account."""
    account_id = accounts.ec.id if account == "ec" else "no-such-account"
    refused(verifier, token, account_id, EMPTY)


# -- TOKEN_INVALID_FORMAT -------------------------------------------------------------------

_CLAIMS = at_now()


def _signed_format_cases(secret: bytes) -> dict[str, str]:
    """Tokens correctly signed with the HMAC account's secret, but badly formed."""
    good = hs_sign({"alg": "HS256", "typ": "JWT"}, _CLAIMS, secret)
    h, p, s = good.split(".")
    return {
        "two-parts": f"{h}.{p}",
        "four-parts": f"{good}.{s}",
        "six-parts": f"{good}.{h}.{p}.{s}",
        "plus-in-signature": f"{h}.{p}.+{s[1:]}",
        "padded-signature": f"{h}.{p}.{s}=",
        "header-not-json": hs_sign("HS256", _CLAIMS, secret),
        "payload-not-json": hs_sign({"alg": "HS256"}, "sub=participant-42", secret),
        "payload-array": hs_sign({"alg": "HS256"}, "[1, 2]", secret),
        "duplicate-sub": hs_sign(
            {"alg": "HS256"}, '{"sub":"a","sub":"b","campaignId":"1001"}', secret
        ),
        "nan-exp": hs_sign({"alg": "HS256"}, '{"sub":"a","campaignId":"1001","exp":NaN}', secret),
        "header-without-alg": hs_sign({"typ": "JWT"}, _CLAIMS, secret),
        "alg-not-a-string": hs_sign({"alg": ["HS256"]}, _CLAIMS, secret),
        "crit-unknown": hs_sign(
            {"alg": "HS256", "crit": ["https://example.com/x"], "https://example.com/x": 1},
            _CLAIMS,
            secret,
        ),
        "crit-exp": hs_sign({"alg": "HS256", "crit": ["exp"], "exp": NOW + 60}, _CLAIMS, secret),
        "b64-false": hs_sign({"alg": "HS256", "b64": False, "crit": ["b64"]}, _CLAIMS, secret),
        "zip": hs_sign({"alg": "HS256", "zip": "DEF"}, _CLAIMS, secret),
        "jku": hs_sign({"alg": "HS256", "jku": "https://evil.example/jwks.json"}, _CLAIMS, secret),
        "oversize": hs_sign({"alg": "HS256"}, {**_CLAIMS, "custom": {"pad": "x" * 17_000}}, secret),
    }


FORMAT_CASES = list(_signed_format_cases(b"placeholder"))


@pytest.mark.parametrize("case", FORMAT_CASES)
def test_badly_formed_signed_jws_is_invalid_format(
    verifier: Verifier, accounts: Accounts, case: str
) -> None:
    """A JWS whose signature is genuine but whose form breaks a §2 rule is TOKEN_INVALID_FORMAT."""
    token = _signed_format_cases(accounts.secret)[case]
    refused(verifier, token, accounts.hmac.id, FORMAT)


@pytest.mark.parametrize("case", ["two-parts", "header-without-alg", "jku", "oversize"])
def test_format_is_checked_before_the_account(verifier: Verifier, case: str) -> None:
    """A malformed token is TOKEN_INVALID_FORMAT even for an unknown account (form is step 1)."""
    refused(verifier, _signed_format_cases(b"k" * 64)[case], "no-such-account", FORMAT)


_EVIL = "https://evil.example"
KEY_SOURCE_HEADERS: dict[str, Callable[[], dict[str, Any]]] = {
    "jku": lambda: {"jku": f"{_EVIL}/jwks.json"},
    "x5u": lambda: {"x5u": f"{_EVIL}/cert.pem"},
    "jwk": lambda: {"jwk": private_key("ec-p256-other").as_dict(private=False)},
    "x5c": lambda: {"x5c": ["MIIBszCCAVmgAwIBAgIUKz"]},
}


@pytest.mark.parametrize("param", KEY_SOURCE_HEADERS.keys())
@pytest.mark.parametrize("signer", ["ec-p256", "ec-p256-other"], ids=["own-key", "attacker-key"])
def test_key_source_in_header_is_invalid_format(
    verifier: Verifier, accounts: Accounts, param: str, signer: str
) -> None:
    """jku/x5u/jwk/x5c in a JWS header are TOKEN_INVALID_FORMAT, whichever key signed it."""
    token = sign(at_now(), "ES256", signer, **KEY_SOURCE_HEADERS[param]())
    refused(verifier, token, accounts.ec.id, FORMAT)


@pytest.mark.parametrize(
    "crit", [["exp"], ["https://example.com/x"], []], ids=["exp", "uri", "empty"]
)
def test_crit_in_jws_is_invalid_format(
    verifier: Verifier, accounts: Accounts, crit: list[str]
) -> None:
    """Any ``crit`` is TOKEN_INVALID_FORMAT: we understand no extension."""
    token = hs_sign(
        {"alg": "HS256", "crit": crit, **dict.fromkeys(crit, 1)}, at_now(), accounts.secret
    )
    refused(verifier, token, accounts.hmac.id, FORMAT)


def test_jws_over_size_limit_is_invalid_format(verifier: Verifier, accounts: Accounts) -> None:
    """A correctly signed JWS larger than the token limit is TOKEN_INVALID_FORMAT."""
    token = sign(at_now(custom={"pad": "x" * 17_000}), "ES256", "ec-p256")
    assert "limit" in refused(verifier, token, accounts.ec.id, FORMAT).detail


def test_zip_jwe_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey, ec_jws: str
) -> None:
    """A real compressed (``zip: DEF``) JWE is TOKEN_INVALID_FORMAT, never inflated."""
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "zip": "DEF", "kid": f"{accounts.ec.id}/1"}
    token = jwe.encrypt_compact(header, ec_jws.encode(), ec_public, algorithms=[*TRANSIT, "DEF"])
    refused(verifier, token, accounts.ec.id, FORMAT)


def _inner(plaintext: bytes, accounts: Accounts, key: RSAKey) -> str:
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": f"{accounts.ec.id}/1", "cty": "JWT"}
    return encrypt(header, plaintext, key)


def test_jwe_inside_jwe_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey, sealed: str
) -> None:
    """A JWE whose content is another (valid) JWE is TOKEN_INVALID_FORMAT."""
    refused(verifier, _inner(sealed.encode(), accounts, ec_public), accounts.ec.id, FORMAT)


NOT_A_JWS = {
    "plain-json": json.dumps(claims()).encode(),
    "empty": b"",
    "whitespace": b"  \n",
    "binary": bytes(range(256)),
    "non-ascii-text": "participant-42 é".encode(),
    "two-parts": b"eyJhbGciOiJFUzI1NiJ9.e30",
}


@pytest.mark.parametrize("plaintext", NOT_A_JWS.values(), ids=NOT_A_JWS.keys())
def test_jwe_not_containing_a_jws_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey, plaintext: bytes
) -> None:
    """A JWE that decrypts to anything but a compact JWS (plain JSON...) is TOKEN_INVALID_FORMAT."""
    refused(verifier, _inner(plaintext, accounts, ec_public), accounts.ec.id, FORMAT)


def test_jwe_containing_jws_with_refused_header_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey
) -> None:
    """The inner JWS passes the same format gate: a ``jku`` inside a JWE is refused too."""
    inner = sign(at_now(), "ES256", "ec-p256", jku=f"{_EVIL}/jwks.json")
    refused(verifier, _inner(inner.encode(), accounts, ec_public), accounts.ec.id, FORMAT)


BROKEN_JWE = {
    "bad-base64-tag": lambda t: replace_part(t, 4, "+" + t.split(".")[4][1:]),
    "padded-iv": lambda t: replace_part(t, 2, t.split(".")[2] + "=="),
    "header-not-json": lambda t: replace_part(t, 0, b64("RSA-OAEP-256")),
    "header-without-enc": lambda t: replace_part(t, 0, b64({"alg": "RSA-OAEP-256"})),
    "four-parts": lambda t: t.rsplit(".", 1)[0],
    "six-parts": lambda t: t + ".AAAA",
}


@pytest.mark.parametrize("breaker", BROKEN_JWE.values(), ids=BROKEN_JWE.keys())
def test_badly_formed_jwe_is_invalid_format(
    verifier: Verifier, accounts: Accounts, sealed: str, breaker: Callable[[str], str]
) -> None:
    """A sealed JWE with a broken segment or header is TOKEN_INVALID_FORMAT before decryption."""
    refused(verifier, breaker(sealed), accounts.ec.id, FORMAT)


# -- TOKEN_DECRYPTION_FAILED ------------------------------------------------------------------


def _truncate(segment: str, keep: int) -> str:
    return b64(unb64(segment)[:keep])


# part index -> name: 1 encrypted key, 2 iv, 3 ciphertext, 4 tag
TAMPERED_JWE: dict[str, Callable[[list[str]], tuple[int, str]]] = {
    "flipped-encrypted-key": lambda p: (1, flip(p[1])),
    "truncated-encrypted-key": lambda p: (1, _truncate(p[1], 128)),
    "empty-encrypted-key": lambda p: (1, ""),
    "flipped-iv": lambda p: (2, flip(p[2], 0)),
    "truncated-iv": lambda p: (2, _truncate(p[2], 8)),
    "empty-iv": lambda p: (2, ""),
    "flipped-ciphertext": lambda p: (3, flip(p[3], 5)),
    "truncated-ciphertext": lambda p: (3, _truncate(p[3], 20)),
    "empty-ciphertext": lambda p: (3, ""),
    "flipped-tag": lambda p: (4, flip(p[4])),
    "truncated-tag": lambda p: (4, _truncate(p[4], 12)),
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


# -- TOKEN_INVALID_SIGNATURE ----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("sig", ["", "AAAA"], ids=["no-signature", "junk-signature"])
@pytest.mark.parametrize("account", ["ec", "hmac"])
def test_alg_none_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, alg: str, sig: str, account: str
) -> None:
    """An unsigned token (``alg: none`` in any case) is TOKEN_INVALID_SIGNATURE."""
    token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(at_now())}.{sig}"
    refused(frozen, token, getattr(accounts, account).id, SIGNATURE)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("stem", ["rsa-2048", "ec-p256"])
@pytest.mark.parametrize("spelling", ["as-stored", "stripped"])
def test_hmac_with_public_key_pem_as_secret_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, alg: str, stem: str, spelling: str
) -> None:
    """Algorithm confusion: HS* keyed with the account's public PEM is refused."""
    account = accounts.rsa if stem == "rsa-2048" else accounts.ec
    assert isinstance(account.validation, PublicKeyValidation)
    secret = account.validation.public_key_pem
    secret = secret.strip() if spelling == "stripped" else secret
    token = hs_sign({"alg": alg, "typ": "JWT"}, at_now(), secret.encode(), alg)
    assert "not allowed" in refused(frozen, token, account.id, SIGNATURE).detail


def _jws_tamper(token: str, how: str) -> str:
    h, p, s = token.split(".")
    return {
        "flipped": f"{h}.{p}.{flip(s)}",
        "truncated": f"{h}.{p}.{_truncate(s, len(unb64(s)) - 1)}",
        "halved": f"{h}.{p}.{_truncate(s, len(unb64(s)) // 2)}",
        "empty": f"{h}.{p}.",
        "campaign-changed": f"{h}.{b64(at_now(campaignId='9999'))}.{s}",
        "header-changed": f"{b64({**json.loads(unb64(h)), 'kid': 'x'})}.{p}.{s}",
    }[how]


SIGNERS = {
    "ec": lambda a: sign(at_now(), "ES256", "ec-p256"),
    "rsa": lambda a: sign(at_now(), "RS256", "rsa-2048"),
    "hmac": lambda a: sign(at_now(), "HS256", a.secret),
}


@pytest.mark.parametrize(
    "how", ["flipped", "truncated", "halved", "empty", "campaign-changed", "header-changed"]
)
@pytest.mark.parametrize("account", SIGNERS.keys())
def test_tampered_jws_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, how: str, account: str
) -> None:
    """A bit flipped or cut in the signature, or an edited header/payload, is refused."""
    token = SIGNERS[account](accounts)
    frozen.verify(token, account_id=getattr(accounts, account).id, campaign_id=CAMPAIGN)
    refused(frozen, _jws_tamper(token, how), getattr(accounts, account).id, SIGNATURE)


def test_expired_token_with_bad_signature_is_invalid_signature(
    frozen: Verifier, accounts: Accounts
) -> None:
    """Signature comes before claims: an expired, forged token says nothing about its expiry."""
    token = sign(at_now(exp=NOW - 86_400, iat=NOW - 90_000), "ES256", "ec-p256-other")
    refused(frozen, token, accounts.ec.id, SIGNATURE)


def test_bad_claims_with_bad_signature_is_invalid_signature(
    frozen: Verifier, accounts: Accounts
) -> None:
    """A forged token missing ``sub`` for another campaign is TOKEN_INVALID_SIGNATURE."""
    token = sign(at_now(sub=None, campaignId="9999"), "ES256", "ec-p256-other")
    refused(frozen, token, accounts.ec.id, SIGNATURE)


MISSING_ACCOUNTS = ["no-such-account", "Bad Id", "", "x" * 64, "../accounts/x", "a/b", "acme\n"]


@pytest.mark.parametrize(
    "account_id",
    MISSING_ACCOUNTS,
    ids=["unknown", "malformed", "empty", "too-long", "traversal", "slash", "newline"],
)
def test_unknown_account_jws_is_invalid_signature(frozen: Verifier, account_id: str) -> None:
    """A JWS for an account that does not exist (or cannot) is TOKEN_INVALID_SIGNATURE."""
    refused(frozen, sign(at_now(), "ES256", "ec-p256"), account_id, SIGNATURE)


@pytest.mark.parametrize(
    "account_id",
    MISSING_ACCOUNTS,
    ids=["unknown", "malformed", "empty", "too-long", "traversal", "slash", "newline"],
)
def test_unknown_account_jwe_is_decryption_failed(
    frozen: Verifier, sealed: str, account_id: str
) -> None:
    """A JWE for an account that does not exist (or cannot) is TOKEN_DECRYPTION_FAILED."""
    refused(frozen, sealed, account_id, DECRYPTION)


def test_disabled_account_refuses_jws_and_jwe(
    make_account: Callable[..., Account], store: AccountStore, keystore: KeyStore, vault: Vault
) -> None:
    """Once disabled, an account's valid JWS is TOKEN_INVALID_SIGNATURE and its valid JWE
    TOKEN_DECRYPTION_FAILED."""
    account = make_account()
    token = sign(claims(), "ES256", "ec-p256")
    sealed = seal(token, keystore.get(account.id).latest)
    Verifier(vault).verify(sealed, account_id=account.id, campaign_id=CAMPAIGN)
    store.disable(account.id)
    fresh = Verifier(vault)  # a new cache: disabling is picked up within the cache TTL
    refused(fresh, token, account.id, SIGNATURE)
    refused(fresh, sealed, account.id, DECRYPTION)


@pytest.fixture(scope="module")
def jwks_ok() -> Iterator[JwksServer]:
    """A JWKS endpoint publishing ec-p256 as ``k1`` (module-scoped: stopping costs 0.5 s)."""
    server = JwksServer().start()
    server.document = {"keys": [{**private_key("ec-p256").as_dict(private=False), "kid": "k1"}]}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def jwks_down() -> Iterator[JwksServer]:
    """A JWKS endpoint that answers HTTP 500."""
    server = JwksServer().start()
    server.status = 500
    try:
        yield server
    finally:
        server.stop()


def _jwks_account(store: AccountStore, uri: str) -> Account:
    validation = JwksValidation(algorithms=("ES256",), jwks_uri=uri)
    return store.create(Account(id=f"jwks-{uuid.uuid4().hex[:10]}", validation=validation))


@pytest.mark.parametrize(
    "header", [{"kid": "k2"}, {}, {"kid": ""}], ids=["unknown-kid", "no-kid", "empty-kid"]
)
def test_jwks_kid_not_found_is_invalid_signature(
    frozen: Verifier, store: AccountStore, jwks_ok: JwksServer, header: dict[str, str]
) -> None:
    """For a JWKS account, a token whose kid the JWKS lacks (or without kid) is refused."""
    account = _jwks_account(store, jwks_ok.url)
    good = sign(at_now(), "ES256", "ec-p256", kid="k1")
    assert frozen.verify(good, account_id=account.id, campaign_id=CAMPAIGN).subject
    refused(frozen, sign(at_now(), "ES256", "ec-p256", **header), account.id, SIGNATURE)


# -- UNKNOWN ---------------------------------------------------------------------------------


def test_jwks_endpoint_failing_is_unknown(
    frozen: Verifier, store: AccountStore, jwks_down: JwksServer
) -> None:
    """A JWKS endpoint answering 500 is UNKNOWN and retryable: not the token's fault."""
    account = _jwks_account(store, jwks_down.url)
    token = sign(at_now(), "ES256", "ec-p256", kid="k1")
    assert "JWKS" in refused(frozen, token, account.id, UNKNOWN).detail


@pytest.fixture
def unreachable() -> Verifier:
    """A verifier whose Vault address has nothing listening."""
    settings = Settings(
        vault_addr=f"http://127.0.0.1:{free_port()}", vault_token="unused", vault_timeout=1.0
    )
    return Verifier(Vault(settings))


def test_vault_unreachable_is_unknown(unreachable: Verifier) -> None:
    """A well-formed JWS while Vault cannot be reached is UNKNOWN and retryable."""
    refused(unreachable, sign(claims(), "ES256", "ec-p256"), "acme", UNKNOWN)


@pytest.mark.parametrize(
    "token",
    ["", "a.b", sign(claims(), "ES256", "ec-p256", jku="https://evil.example/j")],
    ids=["empty", "two-parts", "jku"],
)
def test_bad_token_is_not_hidden_by_vault_outage(unreachable: Verifier, token: str) -> None:
    """UNKNOWN never hides a token that is bad on its face: form is judged without Vault."""
    refused(unreachable, token, "acme", EMPTY if not token else FORMAT)


def test_vault_down_while_decrypting_is_unknown() -> None:
    """With the account cached but Vault stopped, a valid JWE is UNKNOWN (retryable), not
    TOKEN_DECRYPTION_FAILED; a plain JWS still verifies from the cache."""
    server = DevServer().start()
    try:
        vault = Vault(Settings(vault_addr=server.addr, vault_token=server.token, vault_timeout=1.0))
        bootstrap(vault)
        AccountStore(vault).create(
            Account(
                id="acme",
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        token = sign(claims(), "ES256", "ec-p256")
        sealed = seal(token, KeyStore(vault).get("acme").latest)
        verifier = Verifier(vault)
        verifier.verify(sealed, account_id="acme", campaign_id=CAMPAIGN)
    finally:
        server.stop()
    assert verifier.verify(token, account_id="acme", campaign_id=CAMPAIGN).subject
    refused(verifier, sealed, "acme", UNKNOWN)


# -- TOKEN_EXPIRED ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp", "code"),
    [(NOW - 59, None), (NOW - 60, EXPIRED), (NOW - 86_400, EXPIRED)],
    ids=["within-leeway", "at-leeway", "yesterday"],
)
def test_exp_beyond_leeway_is_expired(
    frozen: Verifier, accounts: Accounts, exp: int, code: str | None
) -> None:
    """``exp`` up to 59 s ago passes (60 s leeway); 60 s or more ago is TOKEN_EXPIRED."""
    token = sign(at_now(exp=exp, iat=NOW - 3600), "ES256", "ec-p256")
    if code is None:
        assert frozen.verify(token, account_id=accounts.ec.id, campaign_id=CAMPAIGN).subject
    else:
        refused(frozen, token, accounts.ec.id, code)


def test_expired_token_missing_sub_is_expired(frozen: Verifier, accounts: Accounts) -> None:
    """Expiry comes before the other claim checks: expired and missing ``sub`` is EXPIRED."""
    token = sign(at_now(exp=NOW - 3600, sub=None), "ES256", "ec-p256")
    refused(frozen, token, accounts.ec.id, EXPIRED)


def test_expired_token_inside_jwe_is_expired(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """A JWE that opens fine but carries an expired JWS is TOKEN_EXPIRED."""
    inner = sign(at_now(exp=NOW - 3600), "ES256", "ec-p256")
    token = seal(inner, keystore.get(accounts.ec.id).latest)
    refused(frozen, token, accounts.ec.id, EXPIRED)


def test_expired_jwe_with_bad_tag_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """Decryption comes before claims: a tampered JWE around an expired JWS is DECRYPTION_FAILED."""
    inner = sign(at_now(exp=NOW - 3600), "ES256", "ec-p256")
    token = seal(inner, keystore.get(accounts.ec.id).latest)
    refused(frozen, replace_part(token, 4, flip(token.split(".")[4])), accounts.ec.id, DECRYPTION)


def test_forged_jws_inside_valid_jwe_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """Anyone can seal with the public key: the inner JWS's signature is still checked."""
    for inner in (
        sign(at_now(), "ES256", "ec-p256-other"),
        f"{b64({'alg': 'none'})}.{b64(at_now())}.",
    ):
        token = seal(inner, keystore.get(accounts.ec.id).latest)
        refused(frozen, token, accounts.ec.id, SIGNATURE)


# -- TOKEN_INVALID_CLAIMS ---------------------------------------------------------------------

DROP = object()  # a claim to remove (``None`` below means a JSON null)
BAD_CLAIMS: dict[str, dict[str, Any]] = {
    "exp-string": {"exp": str(NOW + 3600)},
    "exp-null": {"exp": None},
    "exp-huge-int": {"exp": 10**400},
    "iat-huge-int": {"iat": 10**400},
    "nbf-string": {"nbf": "2020-01-01"},
    "iat-bool": {"iat": True},
    "missing-sub": {"sub": DROP},
    "missing-campaign": {"campaignId": DROP},
    "null-sub": {"sub": None},
    "sub-bool": {"sub": True},
    "sub-empty": {"sub": ""},
    "sub-object": {"sub": {"id": 1}},
    "campaign-fraction": {"campaignId": 1001.5},
    "wrong-campaign": {"campaignId": "1002"},
    "wrong-campaign-number": {"campaignId": 1002},
    "nbf-future": {"nbf": NOW + 3600},
    "iat-future": {"iat": NOW + 3600},
    "profile-not-object": {"profile": "Ada Lovelace"},
    "gift-not-object": {"gift": ["prize"]},
}


@pytest.mark.parametrize("changes", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_bad_claims_are_invalid_claims(
    frozen: Verifier, accounts: Accounts, changes: dict[str, Any]
) -> None:
    """A validly signed token with a missing, mistyped or mismatched claim is refused."""
    payload = at_now()
    for name, value in changes.items():
        if value is DROP:
            del payload[name]
        else:
            payload[name] = value
    refused(frozen, sign(payload, "ES256", "ec-p256"), accounts.ec.id, CLAIMS)


@pytest.mark.parametrize(
    ("claim", "param"),
    [(1001, 1001), (1001, "1001"), ("1001", 1001), ("1001", "1001")],
    ids=["number-number", "number-string", "string-number", "string-string"],
)
def test_campaign_id_number_or_string_is_accepted(
    frozen: Verifier, accounts: Accounts, claim: str | int, param: str | int
) -> None:
    """campaignId as a number or a string matches the expected campaign given either way."""
    token = sign(at_now(campaignId=claim), "ES256", "ec-p256")
    assert frozen.verify(token, account_id=accounts.ec.id, campaign_id=param).campaign_id == "1001"


@pytest.mark.parametrize(
    "iss", [None, "https://evil.example", "x "], ids=["missing", "other", "trailing-space"]
)
def test_iss_mismatch_for_pinned_issuer_is_invalid_claims(
    make_account: Callable[..., Account], vault: Vault, iss: str | None
) -> None:
    """An account pinning ``iss`` refuses tokens without it or with another one."""
    account = make_account(issuer="x")
    verifier = Verifier(vault, clock=lambda: NOW)
    assert verifier.verify(
        sign(at_now(iss="x"), "ES256", "ec-p256"), account_id=account.id, campaign_id=CAMPAIGN
    )
    refused(verifier, sign(at_now(iss=iss), "ES256", "ec-p256"), account.id, CLAIMS)


def test_require_exp_policy_refuses_token_without_exp(
    make_account: Callable[..., Account], vault: Vault
) -> None:
    """With ``require_exp``, a token without ``exp`` is TOKEN_INVALID_CLAIMS; with one it passes."""
    account = make_account(policy=TokenPolicy(require_exp=True))
    verifier = Verifier(vault, clock=lambda: NOW)
    assert verifier.verify(
        sign(at_now(), "ES256", "ec-p256"), account_id=account.id, campaign_id=CAMPAIGN
    )
    refused(verifier, sign(at_now(exp=None), "ES256", "ec-p256"), account.id, CLAIMS)


def test_max_lifetime_policy_refuses_long_lived_token(
    make_account: Callable[..., Account], vault: Vault
) -> None:
    """With ``max_lifetime=600``, a token valid for a day is refused and one for 10 min passes."""
    account = make_account(policy=TokenPolicy(max_lifetime=600))
    verifier = Verifier(vault, clock=lambda: NOW)
    short = sign(at_now(iat=NOW, exp=NOW + 600), "ES256", "ec-p256")
    assert verifier.verify(short, account_id=account.id, campaign_id=CAMPAIGN)
    refused(
        verifier, sign(at_now(iat=NOW, exp=NOW + 86_400), "ES256", "ec-p256"), account.id, CLAIMS
    )
    refused(
        verifier, sign(at_now(iat=None, exp=NOW + 86_400), "ES256", "ec-p256"), account.id, CLAIMS
    )


def test_no_exp_by_default_never_expires(frozen: Verifier, accounts: Accounts) -> None:
    """Without ``exp`` (and no ``require_exp``) a years-old token still verifies (DESIGN §2)."""
    token = sign(at_now(exp=None, iat=NOW - 5 * 365 * 86_400), "ES256", "ec-p256")
    assert frozen.verify(token, account_id=accounts.ec.id, campaign_id=CAMPAIGN).subject


def test_invalid_claims_inside_jwe_are_invalid_claims(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """A sealed token for another campaign is TOKEN_INVALID_CLAIMS once opened and verified."""
    token = seal(
        sign(at_now(campaignId="1002"), "ES256", "ec-p256"), keystore.get(accounts.ec.id).latest
    )
    refused(frozen, token, accounts.ec.id, CLAIMS)


@pytest.mark.parametrize(
    "campaign_id", [None, "", "  ", True, 1.5], ids=["none", "empty", "blank", "bool", "float"]
)
def test_expected_campaign_must_be_given(frozen: Verifier, campaign_id: object) -> None:
    """A caller that passes no usable campaign id gets a ValueError, so a token claiming
    campaignId "None" can never match a missing configuration."""
    token = sign({**at_now(), "campaignId": str(campaign_id)}, "ES256", "ec-p256")
    with pytest.raises(ValueError, match="campaign_id"):
        frozen.verify(token, account_id="any", campaign_id=campaign_id)  # type: ignore[arg-type]
