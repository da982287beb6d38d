"""A customer's web site on loopback: pages you set, served over real HTTP (a thread)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.openbao import free_port


class CustomerSite:
    """``with CustomerSite() as site: site.pages["/x.html"] = html; site.url``"""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CustomerSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def embed_page(player_host: str, account: str, campaign: str, token: str | None) -> str:
    """A customer page embedding a campaign with the player's tag (the token in ``params``)."""
    params = "" if token is None else f"qual_token={token}"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Our shop</h1><div id="campaign"></div>
<script>
window._qual_async = window._qual_async || [];
_qual_async.push(['createIframe', 'campaign', '{player_host}', '{account}', '{campaign}',
  '100%', '700', '{params}', '', '', 'max-width:810px;margin:0 auto;']);
</script>
<script async src="//{player_host}/kit/embed.js"></script>
</body></html>"""
