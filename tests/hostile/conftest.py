"""Fixtures of the hostile corpus: its accounts and tokens, made once for the package."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import pytest
from joserfc.errors import SecurityWarning

from shared import Vault
from tests.hostile.corpus import CASES
from tests.hostile.forge import Context, create_context, jwks_document
from tests.support.jwks_server import JwksServer


@pytest.fixture(scope="package")
def jwks_endpoint() -> Iterator[JwksServer]:
    """The ``jwks`` account's endpoint: ec-p256 as ``k1``, rsa-2048 as ``r1``."""
    server = JwksServer().start()
    server.document = jwks_document()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def hostile(vault: Vault, jwks_endpoint: JwksServer) -> Context:
    """One account per role in the session's OpenBao, shared by the package's modules."""
    return create_context(vault, jwks_endpoint.url, uuid.uuid4().hex[:8])


@pytest.fixture(scope="package")
def corpus_tokens(hostile: Context) -> dict[str, str]:
    """Every case's token, built once (the zip bombs and RSA wraps are not free)."""
    with warnings.catch_warnings():
        # joserfc warns when asked for RSA1_5 or a low p2c: the attacker means it.
        warnings.simplefilter("ignore", SecurityWarning)
        return {case.id: case.build(hostile) for case in CASES}
