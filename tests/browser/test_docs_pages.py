"""The interactive docs pages of the three APIs, in a real chromium with no internet: each lists
the API's operations, and nothing it loads comes from another host."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from playwright.sync_api import Locator
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

import authz_api.app
import crypto_api.app
from shared import Settings
from tests.support.asgi_server import AsgiServer
from tests.support.browser import OfflineBrowser
from tests.support.player import docs_player

OPENAPI = Path(__file__).resolve().parents[2] / "openapi"
FACTORIES: dict[str, Callable[[Settings], Litestar]] = {
    "authz-api.json": authz_api.app.create_app,
    "crypto-api.json": crypto_api.app.create_app,
    "player.json": docs_player,
}
SETTINGS = Settings(
    vault_addr="http://127.0.0.1:1",  # the pages need no Vault
    authz_issuer="http://127.0.0.1:1",
    authz_single_instance=True,
)
#: Rendering a page takes 1-3 s here; a blank one waits this long for nothing.
RENDER_TIMEOUT_MS = 15_000


def wait_for(locator: Locator, browser: OfflineBrowser) -> None:
    """Wait until ``locator`` shows; if it never does, say what the page could not load."""
    try:
        locator.wait_for(timeout=RENDER_TIMEOUT_MS)
    except PlaywrightTimeoutError:
        pytest.fail(f"not rendered: {locator}; requests blocked: {browser.blocked}")


def summaries(name: str) -> list[str]:
    """The summary of every operation the checked-in document lists."""
    doc: dict[str, Any] = json.loads((OPENAPI / name).read_text("utf-8"))
    return [
        operation["summary"]
        for item in doc["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "summary" in operation
    ]


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def api(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(document name, base URL) of a real server of one API."""
    name: str = request.param
    with AsgiServer(FACTORIES[name](SETTINGS)) as server:
        yield name, server.url


def test_scalar_page_lists_the_operations_offline(
    api: tuple[str, str], browser: OfflineBrowser
) -> None:
    """/schema (Scalar) renders every operation's summary with no request off this host."""
    name, url = api
    with browser.page() as page:
        page.goto(f"{url}/schema")
        # Scalar names each operation in its sidebar and in the body.
        for summary in summaries(name):
            wait_for(page.get_by_text(summary).first, browser)
        page.wait_for_load_state("networkidle")
    assert browser.blocked == []


def test_swagger_page_lists_the_operations_offline(
    api: tuple[str, str], browser: OfflineBrowser
) -> None:
    """/schema/swagger (Swagger UI) renders every operation with no request off this host."""
    name, url = api
    with browser.page() as page:
        page.goto(f"{url}/schema/swagger")
        wait_for(page.locator(".opblock").first, browser)
        shown = page.locator(".opblock-summary-description").all_inner_texts()
        page.wait_for_load_state("networkidle")
    assert sorted(shown) == sorted(summaries(name))
    assert browser.blocked == []
