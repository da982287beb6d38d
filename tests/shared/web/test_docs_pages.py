"""The docs pages' asset routes: the pinned files only, GET only, cacheable, no listing, no
path traversal; a clear page when the files are missing; the CDN only when asked, with SRI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from shared.web.docs_assets import ASSETS, DEFAULT_ROOT, SCALAR, DocsAssets
from shared.web.docs_pages import CACHE_FOREVER, DocsScalarPlugin, DocsSwaggerPlugin
from shared.web.openapi import openapi_config
from tests.support.asgi_server import AsgiServer

SCALAR_JS = f"scalar-api-reference-{SCALAR.version}.js"


def docs_app(mode: DocsAssets = "local", root: Path = DEFAULT_ROOT) -> Litestar:
    """An app with nothing but the docs pages, their files in ``root``."""
    config = OpenAPIConfig(
        title="Docs",
        version="1",
        path="/schema",
        render_plugins=[
            DocsScalarPlugin(mode, root=root),
            DocsSwaggerPlugin(mode, root=root),
            JsonRenderPlugin(),
        ],
    )
    return Litestar(route_handlers=[], openapi_config=config)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A client of a real server of the docs pages, their files installed."""
    with AsgiServer(docs_app()) as server, httpx.Client(base_url=server.url) as client:
        yield client


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_each_asset_is_served_cacheable_forever(http: httpx.Client, name: str) -> None:
    """Each pinned file, its type, nosniff, and a year's immutable caching (its name is
    versioned)."""
    answer = http.get(f"/schema/assets/{name}")
    assert answer.status_code == 200
    assert answer.content == ASSETS[name].path().read_bytes()
    assert answer.headers["content-type"].startswith(ASSETS[name].media_type)
    assert answer.headers["cache-control"] == CACHE_FOREVER
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_assets_answer_get_only(http: httpx.Client, method: str) -> None:
    """Any other method is 405, naming GET."""
    answer = http.request(method, f"/schema/assets/{SCALAR_JS}")
    assert answer.status_code == 405
    assert "GET" in answer.headers["allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/schema/assets",
        "/schema/assets/",
        "/schema/assets/nothing.js",
        "/schema/assets/..%2Fdocs_assets.py",
        "/schema/assets/%2e%2e/%2e%2e/settings.py",
        "/schema/assets/..%2F..%2F..%2Fpyproject.toml",
        "/schema/assets/%2F%2Fetc%2Fpasswd",
        f"/schema/assets/{SCALAR_JS}/..%2F..%2Fdocs_assets.py",
        f"/schema/assets/{SCALAR_JS}%00.py",
    ],
)
def test_no_listing_and_no_path_traversal(http: httpx.Client, path: str) -> None:
    """Only the listed names answer: no directory listing, nothing reached by a path."""
    answer = http.get(httpx.URL(path))
    assert answer.status_code == 404, answer.text
    assert "import" not in answer.text
    assert "root:" not in answer.text


def test_missing_files_make_a_page_that_says_so(tmp_path: Path) -> None:
    """Not installed: each page says so and how to fix it (not a blank page), and an
    asset answers 404 naming the fix."""
    with AsgiServer(docs_app(root=tmp_path)) as server, httpx.Client(base_url=server.url) as c:
        pages = [c.get("/schema"), c.get("/schema/swagger")]
        asset = c.get(f"/schema/assets/{SCALAR_JS}")
    for page in pages:
        assert page.status_code == 200
        assert "scripts are not installed" in page.text
        assert "scripts/install" in page.text
        assert "DOCS_ASSETS=cdn" in page.text
        assert 'href="/schema/openapi.json"' in page.text
    assert asset.status_code == 404
    assert "run scripts/install, or set DOCS_ASSETS=cdn" in asset.text


def test_cdn_only_when_asked_pinned_with_integrity(tmp_path: Path) -> None:
    """DOCS_ASSETS=cdn: each file from jsDelivr at its pinned version with its SRI hash;
    nothing is served locally (so nothing needs installing)."""
    with (
        AsgiServer(docs_app("cdn", root=tmp_path)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        scalar = client.get("/schema").text
        swagger = client.get("/schema/swagger").text
        local = client.get(f"/schema/assets/{SCALAR_JS}")
    pages = {ASSETS[SCALAR_JS]: scalar}
    pages |= {asset: swagger for asset in ASSETS.values() if asset.package != SCALAR}
    for asset, page in pages.items():
        assert f'"{asset.cdn_url}" integrity="{asset.sri}" crossorigin="anonymous"' in page
        assert f"@{asset.package.version}/" in asset.cdn_url
    assert "/schema/assets/" not in scalar + swagger
    assert "@main" not in scalar + swagger
    assert local.status_code == 404


def test_the_default_is_local() -> None:
    """Without DOCS_ASSETS, the pages load from this service."""
    app = Litestar(route_handlers=[], openapi_config=openapi_config("T", "D", []))
    with AsgiServer(app) as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/schema").text
    assert f'src="/schema/assets/{SCALAR_JS}"' in page


def test_markup_in_the_document_cannot_end_the_swagger_script() -> None:
    """Litestar inlines the document in Swagger UI's <script>: a "</script>" in it (an HTML
    example, a description) must not close that script, nor run as markup."""
    hostile = "</script><script>alert(1)</script>"
    config = OpenAPIConfig(
        title="Docs",
        version="1",
        description=hostile,
        path="/schema",
        render_plugins=[DocsSwaggerPlugin("local"), JsonRenderPlugin()],
    )
    app = Litestar(route_handlers=[], openapi_config=config)
    with AsgiServer(app) as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/schema/swagger").text
        served = client.get("/schema/openapi.json").json()
    assert hostile not in page
    assert "\\u003c/script>\\u003cscript>alert(1)\\u003c/script>" in page
    assert served["info"]["description"] == hostile  # the document itself is unchanged
