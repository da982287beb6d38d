"""Debian's chromium, driven by Playwright, on a network that ends at this host: every
request to any other host is aborted and recorded, so a page that needs the internet shows
it (blank, and a non-empty :attr:`OfflineBrowser.blocked`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route, sync_playwright

#: Quiet and offline: no update checks, no sync, no first-run pages (they would be blocked
#: requests of the browser's own, not the page's, but would clutter what is recorded).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def chromium_path() -> str | None:
    """The system's chromium (``playwright install`` cannot download one here)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class OfflineBrowser:
    """Pages whose requests may reach only loopback; the rest are aborted, in :attr:`blocked`."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.blocked: list[str] = []

    def _route(self, route: Route) -> None:
        url = route.request.url
        scheme = urlsplit(url).scheme
        host = urlsplit(url).hostname or ""
        # data: and blob: URLs never leave the page.
        if scheme in ("data", "blob") or host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    @contextmanager
    def page(self) -> Iterator[Page]:
        """A fresh page (its own context: no cache shared with another page); :attr:`blocked`
        starts empty."""
        self.blocked = []
        context = self.browser.new_context()
        try:
            page = context.new_page()
            page.route("**/*", self._route)
            yield page
        finally:
            context.close()


@contextmanager
def offline_chromium() -> Iterator[OfflineBrowser]:
    """Headless chromium, launched once for the ``with`` block."""
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield OfflineBrowser(browser)
        finally:
            browser.close()
