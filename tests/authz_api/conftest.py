"""Fixtures: the Authorization API served over real HTTP (uvicorn) on the session's real
OpenBao."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared import Settings
from tests.support.authz import Authz, serve


@pytest.fixture(scope="module")
def authz(settings: Settings, vault: object) -> Iterator[Authz]:
    """One Authorization API for the module (rate limit out of the way)."""
    with serve(settings, rate_limit_per_second=0.0) as client:
        yield client


@pytest.fixture
def serve_authz(settings: Settings, vault: object) -> Callable[..., Any]:
    """Start extra apps with other settings: ``with serve_authz(cache_ttl=0) as a: ...``"""
    return lambda **overrides: serve(settings, **overrides)
