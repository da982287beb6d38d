"""Fixtures: one offline chromium for the whole suite (launching one costs ~1 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import OfflineBrowser, offline_chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[OfflineBrowser]:
    """Headless chromium whose requests end at this host."""
    with offline_chromium() as offline:
        yield offline
