"""Serve an ASGI app over real HTTP on a free loopback port (uvicorn in a thread)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from tests.support.openbao import free_port


class AsgiServer:
    """``with AsgiServer(app) as server: server.url``"""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            # The protocol `tokenctl serve` runs (bounded heads, head and body in one write).
            http="shared.cli._bounded_http:BoundedHttpToolsProtocol",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> AsgiServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the ASGI server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
