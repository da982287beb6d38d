"""A real local HTTP server standing in for a customer's profile API, misbehaving by path.

Paths: ``/profile`` (a bare JSON profile), ``/claims`` (an object with ``profile`` and
``form`` members), ``/slow`` (answers after ``slow_seconds``), ``/dribble`` (a byte every
0.2 s, for ever), ``/big`` (10 MB announced in Content-Length), ``/big-unannounced`` (10
MB with no Content-Length), ``/text`` (not JSON), ``/array`` (a JSON array), ``/401``,
``/403``, ``/500``, ``/redirect`` (a 302 to ``/profile``). Every request's Authorization
header is kept in ``authorizations``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROFILE: dict[str, Any] = {"email": "ada@example.com", "first_name": "Ada"}
CLAIMS: dict[str, Any] = {"profile": {"email": "ada@example.com"}, "form": {"city": "Paris"}}
BIG = 10 * 1024 * 1024


class ProfileServer:
    """Serves the paths above on 127.0.0.1 (a free port); ``url(path)`` names one."""

    def __init__(self, *, slow_seconds: float = 3.0) -> None:
        self.slow_seconds = slow_seconds
        self.authorizations: list[str | None] = []
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _close_delimited(self, total: int) -> None:
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b" " * 65536
                sent = 0
                while sent < total and not owner._stop.is_set():
                    self.wfile.write(chunk)
                    sent += len(chunk)

            def _dribble(self) -> None:
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.flush()
                while not owner._stop.wait(0.2):
                    self.wfile.write(b" ")
                    self.wfile.flush()

            def do_GET(self) -> None:
                owner.authorizations.append(self.headers.get("Authorization"))
                path = self.path.split("?", 1)[0]
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if path == "/profile":
                        self._send(200, json.dumps(PROFILE).encode(), "application/json")
                    elif path == "/claims":
                        self._send(200, json.dumps(CLAIMS).encode(), "application/json")
                    elif path == "/slow":
                        owner._stop.wait(owner.slow_seconds)
                        self._send(200, json.dumps(PROFILE).encode(), "application/json")
                    elif path == "/dribble":
                        self._dribble()
                    elif path == "/big":
                        self._send(200, b" " * BIG, "application/json")
                    elif path == "/big-unannounced":
                        self._close_delimited(BIG)
                    elif path == "/text":
                        self._send(200, b"<html>hello</html>", "text/html")
                    elif path == "/array":
                        self._send(200, b'[{"email": "ada@example.com"}]', "application/json")
                    elif path in ("/401", "/403", "/500"):
                        self._send(int(path[1:]), b'{"error": "no"}', "application/json")
                    elif path == "/redirect":
                        self.send_response(302)
                        self.send_header("Location", "/profile")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        self._send(404, b"{}", "application/json")

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> ProfileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
