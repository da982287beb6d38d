"""Account documents: validation rules (no Vault)."""

from __future__ import annotations

import base64
import math
import secrets
from typing import Any

import msgspec
import pytest

from shared import (
    Account,
    AccountInvalid,
    CustomerEncryption,
    JwksValidation,
    PublicKeyValidation,
    SymmetricValidation,
    TokenPolicy,
    validate_account,
)
from shared.accounts.document import RateLimit, RateLimits
from tests.support.tokens import pem

SECRET_64 = bytes(range(64))


def _public(algorithms: tuple[str, ...], key_pem: str) -> Account:
    return Account(
        id="acme", validation=PublicKeyValidation(algorithms=algorithms, public_key_pem=key_pem)
    )


def _symmetric(algorithms: tuple[str, ...], secret: bytes, **fields: Any) -> Account:
    return Account(
        id="acme", validation=SymmetricValidation(algorithms=algorithms, secret=secret), **fields
    )


def _jwks(uri: str, algorithms: tuple[str, ...] = ("RS256",)) -> Account:
    return Account(id="acme", validation=JwksValidation(algorithms=algorithms, jwks_uri=uri))


def _refused(account: Account, *words: str) -> AccountInvalid:
    with pytest.raises(AccountInvalid) as caught:
        validate_account(account)
    assert caught.value.code == "ACCOUNT_INVALID"
    for word in words:
        assert word in caught.value.detail
    return caught.value


# -- validation: methods and algorithms ---------------------------------------------------


@pytest.mark.parametrize(
    "account",
    [
        _public(("HS256",), pem("ec-p256")),
        _public(("ES256", "HS256"), pem("ec-p256")),
        _jwks("https://idp.example/jwks.json", ("HS512",)),
        _symmetric(("RS256",), SECRET_64),
        _symmetric(("ES256",), SECRET_64),
        _symmetric(("none",), SECRET_64),
        _public(("none",), pem("ec-p256")),
        _public(("PS256",), pem("rsa-2048")),
    ],
    ids=[
        "hs-on-public-key",
        "hs-mixed-into-public-key",
        "hs-on-jwks",
        "rs-on-symmetric",
        "es-on-symmetric",
        "none-on-symmetric",
        "none-on-public-key",
        "ps-not-offered",
    ],
)
def test_algorithms_outside_the_methods_family_are_refused(account: Account) -> None:
    """An account may only pin algorithms of its validation method's family."""
    _refused(account, "not allowed")


@pytest.mark.parametrize(
    "account",
    [_symmetric((), SECRET_64), _public((), pem("ec-p256"))],
    ids=["symmetric", "public-key"],
)
def test_empty_algorithm_list_is_refused(account: Account) -> None:
    """An account must pin at least one algorithm (a document built in code included)."""
    _refused(account)


def test_repeated_algorithm_is_refused() -> None:
    """The same algorithm listed twice is a mistake the document must not carry."""
    _refused(_symmetric(("HS256", "HS256"), SECRET_64), "repeat")


# -- validation: public keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stem", "algorithms"),
    [
        ("rsa-2048", ("RS256", "RS384", "RS512")),
        ("ec-p256", ("ES256",)),
        ("ec-p384", ("ES384",)),
        ("ec-p521", ("ES512",)),
    ],
    ids=["rsa-2048", "p-256", "p-384", "p-521"],
)
def test_public_key_matching_its_algorithms_is_accepted(
    stem: str, algorithms: tuple[str, ...]
) -> None:
    """A PEM public key with algorithms its type and curve can verify is accepted unchanged."""
    account = _public(algorithms, pem(stem))
    assert validate_account(account) is account


@pytest.mark.parametrize(
    ("stem", "algorithms", "words"),
    [
        ("rsa-2048", ("ES256",), ("RSA",)),
        ("ec-p256", ("RS256",), ("P-256",)),
        ("ec-p256", ("ES384",), ("P-256", "ES384")),
        ("ec-p384", ("ES256",), ("P-384",)),
        ("ec-p521", ("ES256", "ES512"), ("P-521",)),
    ],
    ids=["rsa-with-es256", "p256-with-rs256", "p256-with-es384", "p384-with-es256", "p521-mixed"],
)
def test_public_key_that_cannot_verify_its_algorithms_is_refused(
    stem: str, algorithms: tuple[str, ...], words: tuple[str, ...]
) -> None:
    """ES* binds the curve and RS* needs RSA: a key that cannot verify a pinned alg is refused."""
    _refused(_public(algorithms, pem(stem)), *words)


def test_rsa_1024_key_is_refused() -> None:
    """RSA public keys under 2048 bits are refused as too weak."""
    _refused(_public(("RS256",), pem("rsa-1024")), "1024", "2048")


@pytest.mark.parametrize("stem", ["rsa-2048", "ec-p256"], ids=["rsa-private", "ec-private"])
def test_private_key_pem_is_refused(stem: str) -> None:
    """A private key given as the account's public key is refused (it must never be shared)."""
    alg = "RS256" if stem.startswith("rsa") else "ES256"
    _refused(_public((alg,), pem(stem, "private")), "private")


@pytest.mark.parametrize(
    "text",
    [
        "not a key",
        "",
        "-----BEGIN PUBLIC KEY-----\nAAAAAAAA\n-----END PUBLIC KEY-----\n",
        pem("rsa-2048").replace("MII", "XYZ", 1),
        pem("ec-p256")[:80],
    ],
    ids=["text", "empty", "armoured-junk", "corrupted", "truncated"],
)
def test_garbage_pem_is_refused(text: str) -> None:
    """Anything that does not parse as a PEM RSA or EC public key is refused."""
    _refused(_public(("RS256",), text), "PEM")


# -- validation: JWKS URIs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://idp.example/.well-known/jwks.json",
        "http://127.0.0.1:8080/jwks.json",
        "http://localhost/jwks.json",
        "http://[::1]:9000/jwks.json",
    ],
    ids=["https", "http-ipv4-loopback", "http-localhost", "http-ipv6-loopback"],
)
def test_jwks_uri_https_or_loopback_http_is_accepted(uri: str) -> None:
    """JWKS URIs are https, or plain http on loopback when the dev setting allows it."""
    account = _jwks(uri)
    assert validate_account(account, allow_loopback_http=True) is account


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8080/jwks.json",
        "http://localhost/jwks.json",
        "https://127.0.0.1/jwks.json",
        "https://10.0.0.1/jwks.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/jwks.json",
    ],
    ids=["http-loopback", "http-localhost", "https-loopback", "https-private", "metadata", "ula"],
)
def test_jwks_uri_internal_is_refused_without_the_dev_setting(uri: str) -> None:
    """Without JWKS_ALLOW_LOOPBACK_HTTP, loopback http and internal IP literals are refused
    when the account is written, with a message naming the setting or the address."""
    with pytest.raises(AccountInvalid, match=r"JWKS_ALLOW_LOOPBACK_HTTP|public host"):
        validate_account(_jwks(uri))


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/jwks.json",
        "http://10.0.0.1/jwks.json",
        "http://localhost.example.com/jwks.json",
        "ftp://example.com/jwks.json",
        "file:///etc/jwks.json",
        "https:///jwks.json",
        "jwks.json",
        "https://a..example.com/jwks.json",
        f"https://{'a' * 64}.example.com/jwks.json",
    ],
    ids=[
        "http-public",
        "http-private-ip",
        "http-fake-localhost",
        "ftp",
        "file",
        "no-host",
        "bare",
        "empty-label",
        "long-label",
    ],
)
def test_jwks_uri_other_than_https_or_loopback_is_refused(uri: str) -> None:
    """Plain http to a non-loopback host, non-http schemes and host names no resolver can
    be given are refused."""
    _refused(_jwks(uri), "jwks_uri")


# -- validation: HMAC secrets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "size"),
    [("HS256", 32), ("HS384", 48), ("HS512", 64)],
    ids=["hs256", "hs384", "hs512"],
)
def test_hmac_secret_of_hash_length_is_accepted(alg: str, size: int) -> None:
    """An HMAC secret as long as the hash output (RFC 7518 §3.2) is enough."""
    account = _symmetric((alg,), secrets.token_bytes(size))
    assert validate_account(account) is account


@pytest.mark.parametrize(
    ("algorithms", "size"),
    [
        (("HS256",), 31),
        (("HS384",), 47),
        (("HS512",), 63),
        (("HS256", "HS512"), 48),
        (("HS256",), 0),
    ],
    ids=["hs256-31", "hs384-47", "hs512-63", "hs512-in-list-48", "empty"],
)
def test_hmac_secret_shorter_than_the_hash_is_refused(
    algorithms: tuple[str, ...], size: int
) -> None:
    """A secret shorter than any pinned HS algorithm's hash output is refused."""
    _refused(_symmetric(algorithms, secrets.token_bytes(size)), "bytes")


# -- validation: customer encryption keys ----------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "enc", "size"),
    [
        ("dir", "A256GCM", 32),
        ("dir", "A128GCM", 16),
        ("dir", "A128CBC-HS256", 32),
        ("dir", "A256CBC-HS512", 64),
        ("A128KW", "A256GCM", 16),
        ("A192KW", "A128GCM", 24),
        ("A256KW", "A256CBC-HS512", 32),
    ],
    ids=["dir-a256gcm", "dir-a128gcm", "dir-cbc256", "dir-cbc512", "a128kw", "a192kw", "a256kw"],
)
def test_customer_encryption_key_of_the_right_length_is_accepted(
    alg: str, enc: str, size: int
) -> None:
    """The customer key is exactly the CEK length for ``dir``, the KEK length for AES-KW."""
    ce = CustomerEncryption(alg=alg, enc=enc, key=secrets.token_bytes(size))
    account = _symmetric(("HS256",), SECRET_64, customer_encryption=ce)
    assert validate_account(account) is account


@pytest.mark.parametrize(
    ("alg", "enc", "size", "word"),
    [
        ("dir", "A256GCM", 16, "32"),
        ("dir", "A256GCM", 33, "32"),
        ("A128KW", "A256GCM", 32, "16"),
        ("A256KW", "A128GCM", 16, "32"),
        ("RSA1_5", "A256GCM", 32, "alg"),
        ("PBES2-HS256+A128KW", "A128GCM", 16, "alg"),
        ("ECDH-ES", "A256GCM", 32, "alg"),
        ("dir", "A512GCM", 32, "enc"),
        ("A128KW", "RSA-OAEP-256", 16, "enc"),
    ],
    ids=[
        "dir-short",
        "dir-long",
        "a128kw-32",
        "a256kw-16",
        "rsa1_5",
        "pbes2",
        "ecdh-es",
        "bad-enc",
        "alg-as-enc",
    ],
)
def test_customer_encryption_bad_length_or_name_is_refused(
    alg: str, enc: str, size: int, word: str
) -> None:
    """A customer key of the wrong length, or an alg/enc outside the allowed lists, is refused."""
    ce = CustomerEncryption(alg=alg, enc=enc, key=secrets.token_bytes(size))
    _refused(_symmetric(("HS256",), SECRET_64, customer_encryption=ce), word)


# -- validation: ids and other fields -------------------------------------------------------


@pytest.mark.parametrize(
    "account_id",
    ["Acme", "../x", "a" * 64, "", "-acme", "_acme", "ac me", "acme/1", "acmé"],
    ids=[
        "uppercase",
        "traversal",
        "64-chars",
        "empty",
        "leading-dash",
        "leading-underscore",
        "space",
        "slash",
        "non-ascii",
    ],
)
def test_malformed_account_id_is_refused(account_id: str) -> None:
    """Account ids follow ``[a-z0-9][a-z0-9_-]{0,62}``; anything else is refused."""
    account = msgspec.structs.replace(_symmetric(("HS256",), SECRET_64), id=account_id)
    _refused(account, "account id")


@pytest.mark.parametrize(
    "account_id", ["a", "0", "a" * 63, "acme_eu-2"], ids=["one", "digit", "63-chars", "mixed"]
)
def test_well_formed_account_id_is_accepted(account_id: str) -> None:
    """Ids of 1 to 63 lowercase letters, digits, '-' and '_' are accepted."""
    account = msgspec.structs.replace(_symmetric(("HS256",), SECRET_64), id=account_id)
    assert validate_account(account) is account


@pytest.mark.parametrize(
    "fields",
    [
        {"key_type": "rsa-1024"},
        {"key_type": "ecdsa-p256"},
        {"issuer": "  "},
        {"policy": TokenPolicy(leeway=-1)},
        {"policy": TokenPolicy(max_lifetime=0)},
    ],
    ids=["rsa-1024-transit", "ec-transit", "blank-issuer", "negative-leeway", "zero-lifetime"],
)
def test_other_bad_fields_are_refused(fields: dict[str, Any]) -> None:
    """Transit key type, issuer and policy bounds are enforced on documents built in code."""
    _refused(_symmetric(("HS256",), SECRET_64, **fields))


def test_repr_hides_secrets() -> None:
    """The repr of an account (what ends up in logs) shows neither HMAC secret nor customer key."""
    secret, key = secrets.token_bytes(32), secrets.token_bytes(32)
    account = _symmetric(
        ("HS256",),
        secret,
        customer_encryption=CustomerEncryption(alg="dir", enc="A256GCM", key=key),
    )
    # rich's pretty printer asks __rich_repr__, which msgspec implements with raw values.
    rich = " ".join(
        repr(list(part.__rich_repr__()))
        for part in (account.validation, account.customer_encryption)
    )
    for text in (repr(account), rich):
        for value in (secret, key):
            assert repr(value) not in text
            assert value.hex() not in text
            assert base64.b64encode(value).decode() not in text
        assert "redacted" in text


def test_jwt_bearer_policy_defaults_to_allowed_and_refuses_other_values() -> None:
    """A document without ``jwt_bearer`` (written before it existed) decodes as 'allowed';
    a value outside allowed/require_aud/disabled is refused on write."""
    old = {"id": "acme", "validation": {"method": "jwks", "algorithms": ["RS256"],
           "jwks_uri": "https://acme.example/jwks"}, "policy": {"leeway": 60}}  # fmt: skip
    account = msgspec.convert(old, Account)
    assert account.policy.jwt_bearer == "allowed"
    wrong = msgspec.structs.replace(
        account, policy=msgspec.structs.replace(account.policy, jwt_bearer="sometimes")
    )
    with pytest.raises(AccountInvalid, match="jwt_bearer"):
        validate_account(wrong)


def test_a_document_without_rate_limits_reads_as_the_defaults() -> None:
    """A document written before accounts had rate limits decodes, with none set (each
    limit then comes from the environment's default)."""
    old = {"id": "acme", "validation": {"method": "jwks", "algorithms": ["RS256"],
           "jwks_uri": "https://keys.example/jwks.json"}}  # fmt: skip
    account = msgspec.convert(old, Account)
    assert account.rate_limits == RateLimits(single=None, batch=None)


@pytest.mark.parametrize(
    "limit",
    [
        RateLimit(per_second=math.inf, burst=10),
        RateLimit(per_second=math.nan, burst=10),
        RateLimit(per_second=-1.0, burst=10),
        RateLimit(per_second=10.0, burst=0),
    ],
    ids=["infinite", "nan", "negative", "zero-burst"],
)
def test_rate_limits_out_of_bounds_are_refused_on_write(limit: RateLimit) -> None:
    """A rate that is not a finite number from 0, or a burst below 1, is refused on write,
    naming the field (JSON would store infinity as null and the document not read back)."""
    for limits in (RateLimits(single=limit), RateLimits(batch=limit)):
        account = msgspec.structs.replace(_jwks("https://keys.example/j"), rate_limits=limits)
        _refused(account, "rate_limits")
