"""The interactive docs pages (Scalar at ``/schema``, Swagger UI at ``/schema/swagger``),
with their scripts served by the service itself (:mod:`shared.web.docs_assets`).

Litestar's render plugins load their scripts, a stylesheet and a favicon from CDNs (one of
them an unpinned ``@main`` path): on a closed network the pages stay white. Here each page
loads pinned files from ``/schema/assets/{name}`` (``DOCS_ASSETS=local``, the default) or,
only when asked (``DOCS_ASSETS=cdn``), the same files from jsDelivr with their Subresource
Integrity hashes. The asset routes are the fixed list of :data:`ASSETS` (no path
parameter: nothing is read by a path a client chose), GET only, and cacheable for a year:
each name carries its version.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.response import File
from litestar.router import Router

from shared.web.docs_assets import ASSETS, DEFAULT_ROOT, SCALAR, SWAGGER_UI, Asset, DocsAssets

__all__ = ["ASSETS_PATH", "CACHE_FOREVER", "DocsScalarPlugin", "DocsSwaggerPlugin"]

#: Under the OpenAPI router's path (``/schema``).
ASSETS_PATH: Final = "/assets"
#: The names carry the version: a new version is a new URL.
CACHE_FOREVER: Final = "public, max-age=31536000, immutable"
#: No favicon request at all (the browser would ask for /favicon.ico otherwise).
_NO_FAVICON: Final = '<link rel="icon" href="data:,">'


def _asset_route(asset: Asset, root: Path) -> HTTPRouteHandler:
    """``GET /assets/{asset.name}``: the installed file, or 404 saying how to install it."""
    path = asset.path(root)

    def serve() -> File:
        if not path.is_file():
            raise NotFoundException(
                f"{asset.name} is not installed: run scripts/install, or set DOCS_ASSETS=cdn"
            )
        return File(
            path,
            filename=asset.name,
            media_type=asset.media_type,
            content_disposition_type="inline",
            headers={"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"},
        )

    serve.__doc__ = f"The docs pages' {asset.source} from {asset.package.spec}."
    return get(
        f"{ASSETS_PATH}/{asset.name}",
        include_in_schema=False,
        sync_to_thread=False,
        name=f"docs-asset-{asset.name}",
    )(serve)


class _Assets:
    """Where a page's files come from: ``/schema/assets`` or the CDN (with SRI)."""

    def __init__(self, mode: DocsAssets, assets: Sequence[Asset], root: Path) -> None:
        self.mode = mode
        self.assets = assets
        self.root = root

    def url(self, asset: Asset, request: Request[Any, Any, Any]) -> str:
        """The asset's URL as the page names it."""
        if self.mode == "cdn":
            return asset.cdn_url
        # The OpenAPI router's path (``/schema``), whatever the app configured.
        config = request.app.openapi_config
        base = (config.path if config else None) or "/schema"
        return f"{base.rstrip('/')}{ASSETS_PATH}/{asset.name}"

    def integrity(self, asset: Asset) -> str:
        """The SRI attributes a CDN tag needs (same-origin files need none)."""
        return f' integrity="{asset.sri}" crossorigin="anonymous"' if self.mode == "cdn" else ""

    def missing(self) -> list[str]:
        """The local files that are not installed (none in CDN mode)."""
        if self.mode == "cdn":
            return []
        return [a.name for a in self.assets if not a.path(self.root).is_file()]

    def routes(self) -> list[HTTPRouteHandler]:
        """The asset routes (none in CDN mode: nothing to serve)."""
        return [] if self.mode == "cdn" else [_asset_route(a, self.root) for a in self.assets]


def _not_installed(title: str, missing: Sequence[str], document: str) -> bytes:
    """A page that says why there is no interactive page, rather than a blank one."""
    names = ", ".join(missing)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
{_NO_FAVICON}</head>
<body><h1>{html.escape(title)}</h1>
<p>The docs page's scripts are not installed ({html.escape(names)}): run
<code>scripts/install</code> (it fetches them, pinned, with npm), or set
<code>DOCS_ASSETS=cdn</code> to load them from jsDelivr.</p>
<p>The OpenAPI document: <a href="{html.escape(document)}">{html.escape(document)}</a>.</p>
</body></html>""".encode()


class DocsScalarPlugin(ScalarRenderPlugin):
    """Scalar at ``path``, with its standalone bundle served locally (or from the CDN)."""

    def __init__(
        self,
        mode: DocsAssets = "local",
        *,
        root: Path = DEFAULT_ROOT,
        path: str | Sequence[str] = "/scalar",
    ) -> None:
        self._assets = _Assets(mode, [ASSETS[f"scalar-api-reference-{SCALAR.version}.js"]], root)
        (self._bundle,) = self._assets.assets
        super().__init__(version=SCALAR.version, js_url=self._bundle.cdn_url, path=path)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page: Scalar's documented ``createApiReference``, on the served document.

        The bundle styles itself: no Litestar stylesheet (an unpinned ``@main`` path).
        Off: the default fonts (Scalar's font CDN), the developer tools and the AI agent
        (their buttons lead to Scalar's services, not to this API).
        """
        title = openapi_schema["info"]["title"]
        document = self.get_openapi_json_route(request)
        if missing := self._assets.missing():
            return _not_installed(title, missing, document)
        # Inside <script>, "</" would end it: JSON with that escaped stays JSON.
        options = json.dumps(
            {
                "url": document,
                "withDefaultFonts": False,
                "showDeveloperTools": "never",
                "agent": {"disabled": True},
                # A few operations: all of them in sight, not behind their tags.
                "defaultOpenAllTags": True,
            }
        ).replace("</", "<\\/")
        src = html.escape(self._assets.url(self._bundle, request))
        return f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <title>{html.escape(title)}</title>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    {_NO_FAVICON}
    {self.style}
  </head>
  <body>
    <noscript>Scalar needs JavaScript; the OpenAPI document is at
      <a href="{html.escape(document)}">{html.escape(document)}</a>.</noscript>
    <div id="app"></div>
    <script src="{src}"{self._assets.integrity(self._bundle)}></script>
    <script>Scalar.createApiReference("#app", {options});</script>
  </body>
</html>""".encode()

    def receive_router(self, router: Router) -> None:
        """Add the bundle's route under the docs router."""
        super().receive_router(router)
        for route in self._assets.routes():
            router.register(route)


class DocsSwaggerPlugin(SwaggerRenderPlugin):
    """Swagger UI at ``path``, with its files served locally (or from the CDN, with SRI)."""

    def __init__(
        self, mode: DocsAssets = "local", *, root: Path = DEFAULT_ROOT, path: str = "/swagger"
    ) -> None:
        def asset(stem: str, ext: str) -> Asset:
            return ASSETS[f"{stem}-{SWAGGER_UI.version}.{ext}"]

        self._js = asset("swagger-ui-bundle", "js")
        self._preset = asset("swagger-ui-standalone-preset", "js")
        self._css = asset("swagger-ui", "css")
        self._icon = asset("swagger-ui-favicon", "png")
        self._assets = _Assets(mode, [self._js, self._preset, self._css, self._icon], root)
        # The URLs depend on the request (the router's path): placeholders, replaced in render.
        super().__init__(
            version=SWAGGER_UI.version,
            js_url=self._placeholder(self._js),
            css_url=self._placeholder(self._css),
            standalone_preset_js_url=self._placeholder(self._preset),
            favicon=f'<link rel="icon" type="image/png" href="{self._placeholder(self._icon)}">',
            path=path,
        )

    @staticmethod
    def _placeholder(asset: Asset) -> str:
        return f"{{{{asset:{asset.name}}}}}"

    @staticmethod
    def render_json(request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The document as Litestar inlines it in the page's ``<script>``, with every ``<``
        spelt ``\\u003c``: an HTML example holding ``</script>`` would otherwise end the
        script there (JSON has ``<`` only inside strings, where the escape means the same)."""
        inline = SwaggerRenderPlugin.render_json(request, openapi_schema)
        return inline.replace(b"<", b"\\u003c")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """Litestar's Swagger UI page, with each asset's URL (and SRI on the CDN) filled in.

        Raises:
            RuntimeError: Litestar's template no longer names an asset where expected.
        """
        if missing := self._assets.missing():
            title = openapi_schema["info"]["title"]
            return _not_installed(title, missing, self.get_openapi_json_route(request))
        page = super().render(request, openapi_schema)
        for asset in self._assets.assets:
            placeholder = f'"{self._placeholder(asset)}"'.encode()
            url = html.escape(self._assets.url(asset, request))
            value = f'"{url}"{self._assets.integrity(asset)}'.encode()
            # Litestar writes `src="URL" crossorigin` for scripts, `href="URL"` for links;
            # the integrity attributes bring their own crossorigin.
            tagged = page.replace(placeholder + b" crossorigin", value)
            tagged = tagged.replace(placeholder, value)
            if tagged == page:
                raise RuntimeError(f"the Swagger UI page does not load {asset.name}")
            page = tagged
        return page

    def receive_router(self, router: Router) -> None:
        """Add the assets' routes (and Litestar's OAuth2 redirect page) under the docs router."""
        super().receive_router(router)
        for route in self._assets.routes():
            router.register(route)
