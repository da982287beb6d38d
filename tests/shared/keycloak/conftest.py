"""Fixtures: the Keycloak backend against the stand-in (tests/support/keycloak_standin.py:
NOT Keycloak), the session's real OpenBao, and both APIs over real HTTP."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from authz_api.app import create_app as create_authz
from crypto_api.app import create_app as create_crypto
from shared import Settings
from tests.support.asgi_server import AsgiServer
from tests.support.authz import Authz
from tests.support.crypto import Crypto
from tests.support.keycloak import (
    REALM_JSON,
    Stack,
    keycloak_settings,
    provisioner_for,
    realm_document,
)
from tests.support.keycloak_standin import KeycloakStandIn
from tests.support.openbao import free_port


@pytest.fixture(scope="module")
def stack(settings: Settings, vault: object) -> Iterator[Stack]:
    """One stand-in realm and both APIs for the module."""
    authz_port, crypto_port = free_port(), free_port()
    authz_url = f"http://127.0.0.1:{authz_port}"
    with KeycloakStandIn() as kc:
        kc.import_realm(realm_document(authz_url))
        base = keycloak_settings(settings, kc)
        authz_settings = msgspec.structs.replace(
            base, authz_backend="keycloak", authz_issuer=authz_url
        )
        crypto_settings = msgspec.structs.replace(
            base,
            authz_issuer=authz_url,
            authz_jwks_url=f"{authz_url}/.well-known/jwks.json",
            crypto_trusted_issuers="builtin,keycloak",
        )
        with (
            AsgiServer(create_authz(authz_settings), port=authz_port),
            AsgiServer(create_crypto(crypto_settings), port=crypto_port),
        ):
            authz = Authz(authz_url)
            crypto = Crypto(f"http://127.0.0.1:{crypto_port}", authz)
            try:
                yield Stack(kc, base, authz, crypto, provisioner_for(base))
            finally:
                authz.http.close()
                crypto.http.close()


@pytest.fixture
def fresh_realm() -> Any:
    """A deep copy of the repo's realm document (tests that change it)."""
    return copy.deepcopy(json.loads(REALM_JSON.read_text("utf-8")))
