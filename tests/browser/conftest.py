"""Fixtures: one offline chromium per module (launching one costs ~1 s). Not per session:
Playwright's sync API keeps an event loop running in the main thread until it stops, and
every later test calling asyncio.run() would fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import OfflineBrowser, offline_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[OfflineBrowser]:
    """Headless chromium whose requests end at this host."""
    with offline_chromium() as offline:
        yield offline
