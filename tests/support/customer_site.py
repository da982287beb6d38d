"""A customer's web site on loopback: pages you set, served over real HTTP (a thread)."""

from __future__ import annotations

import json
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


def messages_page(
    player_host: str,
    account: str,
    campaign: str,
    token: object,
    *,
    prelogin: bool | None = None,
    div_id: str = "campaign",
) -> str:
    """A customer page speaking the bilateral messages: it records what the campaign sends
    in ``window.events``, and answers ``isLoggedIn`` with ``userInfo`` carrying ``token``
    once the person "logs in" (the ``#login`` button, or ``window.login()``).

    ``prelogin``: with a value, a ``requestParticipantAction`` callback answers it (without
    one the loader answers false).
    """
    ask = ""
    if prelogin is not None:
        ask = f"""
_qual_async.push(['registerChildMessageCallback', 'requestParticipantAction', function (data) {{
  events.push({{type: 'requestParticipantAction', data: data}});
  _qual_async.push(['sendChildMessage', data.divId, 'requestParticipantAction',
                    {json.dumps(prelogin)}]);
}}]);"""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Our shop</h1><button id="login">Log in</button><div id="{div_id}"></div>
<script>
window.events = [];
window.loggedIn = false;
var TOKEN = {json.dumps(token)};
var asked = null;
function answer() {{
  _qual_async.push(['sendChildMessage', asked.divId, 'userInfo', TOKEN]);
}}
window.login = function () {{ loggedIn = true; if (asked) {{ answer(); }} }};
window._qual_async = window._qual_async || [];
_qual_async.push(['createIframe', '{div_id}', '{player_host}', '{account}', '{campaign}',
  '100%', '700', '', '', '', '']);
_qual_async.push(['registerChildMessageCallback', 'isLoggedIn', function (data) {{
  events.push({{type: 'isLoggedIn', data: data}});
  asked = data;
  if (loggedIn) {{ answer(); }}
}}]);
_qual_async.push(['registerChildMessageCallback', 'error', function (error) {{
  events.push({{type: 'error', data: error}});
}}]);{ask}
document.getElementById('login').addEventListener('click', window.login);
</script>
<script async src="//{player_host}/kit/embed.js"></script>
</body></html>"""


def recorder_page(script: str = "") -> str:
    """A page that records every message it receives in ``window.received``, then runs
    ``script`` (an evil page, a sibling frame)."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Other</title></head>
<body><p>other</p><script>
window.received = [];
window.addEventListener('message', function (event) {{
  window.received.push({{origin: event.origin, data: event.data}});
}});
{script}
</script></body></html>"""
