"""Fixtures: a real OpenBao for the session, bootstrapped; per-test accounts; a JWKS server."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import hvac
import pytest

from shared import (
    Account,
    AccountStore,
    JwksValidation,
    KeyStore,
    PublicKeyValidation,
    Settings,
    SymmetricValidation,
    Vault,
    Verifier,
)
from shared.ops.bootstrap import bootstrap
from tests.support.jwks_server import JwksServer
from tests.support.openbao import DevServer
from tests.support.redis_server import RedisServer
from tests.support.tokens import pem


@pytest.fixture(scope="session")
def bao() -> Iterator[DevServer]:
    """One real `bao server -dev` for the whole session, on a free loopback port."""
    server = DevServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(bao: DevServer) -> Settings:
    """Settings for the session server (root token), with short cache TTLs."""
    return Settings(
        vault_addr=bao.addr,
        vault_token=bao.token,
        vault_timeout=3.0,
        jwks_allow_loopback_http=True,  # the JWKS servers of the tests are local http
    )


@pytest.fixture(scope="session")
def vault(settings: Settings) -> Vault:
    """A bootstrapped Vault facade with the root token."""
    v = Vault(settings)
    bootstrap(v)
    return v


@pytest.fixture
def store(vault: Vault) -> AccountStore:
    return AccountStore(vault)


@pytest.fixture
def keystore(vault: Vault) -> KeyStore:
    return KeyStore(vault)


@pytest.fixture
def verifier(vault: Vault) -> Verifier:
    """A fresh verifier (empty caches) on the session Vault."""
    return Verifier(vault)


@pytest.fixture
def account_id() -> str:
    """A unique account id per test, so tests never share state in Vault."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hmac_secret() -> bytes:
    return secrets.token_bytes(64)


@pytest.fixture
def make_exportable(vault: Vault) -> Callable[[str], None]:
    """Make an account's Transit key exportable (root token; the admin policy refuses it),
    so a test can decrypt with a library outside Vault."""

    def make(account_id: str) -> None:
        client = hvac.Client(url=vault.settings.vault_addr, token=vault.settings.vault_token)
        client.secrets.transit.update_key_configuration(f"account-{account_id}", exportable=True)

    return make


@pytest.fixture
def make_account(store: AccountStore, account_id: str) -> Callable[..., Account]:
    """Create an account in Vault. ``method``: public_key (with ``key`` stem), symmetric (with
    ``secret``) or jwks (with ``jwks_uri``); other keywords go to :class:`Account`."""

    def make(
        method: str = "public_key",
        *,
        algorithms: tuple[str, ...] = ("ES256",),
        key: str = "ec-p256",
        secret: bytes | None = None,
        jwks_uri: str | None = None,
        id: str | None = None,
        **fields: Any,
    ) -> Account:
        validation: PublicKeyValidation | SymmetricValidation | JwksValidation
        if method == "public_key":
            validation = PublicKeyValidation(algorithms=algorithms, public_key_pem=pem(key))
        elif method == "symmetric":
            validation = SymmetricValidation(algorithms=algorithms, secret=secret or b"")
        else:
            validation = JwksValidation(algorithms=algorithms, jwks_uri=jwks_uri or "")
        return store.create(Account(id=id or account_id, validation=validation, **fields))

    return make


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    """A real HTTP server on loopback serving a JWKS you can change."""
    server = JwksServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real `redis-server` for the whole session, on a free loopback port."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_bao() -> Iterator[DevServer]:
    """An OpenBao of the test's own, which it may seal, cut off or stop without disturbing
    the other tests."""
    server = DevServer().start()
    try:
        yield server
    finally:
        server.stop()
