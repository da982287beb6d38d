"""A real local HTTP server that serves a customer's JWKS (and can misbehave on demand)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JwksServer:
    """Serves ``document`` at ``/jwks.json``; counts requests; ``delay``/``status``/``body``
    override the answer to simulate a slow, failing or garbage-returning endpoint. It answers
    any path and POST/PUT alike, so it also stands in for a Vault failing in ways a real one
    will not on demand."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.requests = 0
        self.delay = 0.0
        self.status = 200
        self.body: bytes | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.delay:
                    time.sleep(owner.delay)
                body = owner.body if owner.body is not None else json.dumps(owner.document).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            do_POST = do_GET  # noqa: N815 - also stands in for a failing Vault endpoint
            do_PUT = do_GET  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"
        # A short poll so shutdown() at teardown returns at once (the default waits 0.5 s).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DrippingServer:
    """A raw TCP server that sends ``payload`` to each connection ``interval`` seconds per
    byte (0: all at once): a key server dripping its status line and headers. Counts
    connections."""

    def __init__(self, payload: bytes, interval: float = 0.0) -> None:
        self.payload = payload
        self.interval = interval
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/jwks.json?key=s3cret"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            if not self.interval:
                conn.sendall(self.payload)
            for i in range(len(self.payload) if self.interval else 0):
                if self._stopped.wait(self.interval):
                    return
                conn.sendall(self.payload[i : i + 1])
            self._stopped.wait(5.0)  # hold the connection open, as a slow server would

    def start(self) -> DrippingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._listener.close()
