"""Fixtures of the verification-step tests: accounts the tests only read, a verifier with a
frozen clock, and a valid JWS and JWE to break."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from shared import (
    Account,
    AccountStore,
    CustomerEncryption,
    KeyStore,
    PublicKeyValidation,
    SymmetricValidation,
    Vault,
    Verifier,
    seal,
)
from tests.support.tokens import pem, sign
from tests.support.verification import NOW, Accounts, at_now


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
