"""Fixtures: one loopback Sentinel set-up for the package (it takes some seconds to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sentinel import SentinelSet


@pytest.fixture(scope="package")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A master, two replicas and three Sentinels, shared by the package's tests (each
    leaves it as it found it)."""
    with SentinelSet(tmp_path_factory.mktemp("sentinel")) as found:
        yield found
