"""Fixtures: the Crypto API and the real Authorization API over real HTTP, on the session
OpenBao."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared import Settings
from tests.support.authz import Authz, serve
from tests.support.crypto import Crypto, serve_crypto


@pytest.fixture(scope="module")
def crypto(settings: Settings, vault: object) -> Iterator[Crypto]:
    """One Crypto API for the module and the Authorization API it trusts (rate limits off)."""
    with (
        serve(settings, rate_limit_per_second=0.0) as authz,
        serve_crypto(
            settings, authz, crypto_rate_per_second=0.0, crypto_batch_rate_per_second=0.0
        ) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def authz_for_crypto(crypto: Crypto) -> Authz:
    """The Authorization API the module's Crypto APIs trust."""
    return crypto.authz


@pytest.fixture
def make_crypto(settings: Settings, authz_for_crypto: Authz) -> Callable[..., Any]:
    """Another Crypto API with other settings: ``with make_crypto(cache_ttl=1) as c: ...``"""
    return lambda **overrides: serve_crypto(settings, authz_for_crypto, **overrides)
