"""A customer's webhook receiver on loopback: checks each event's signature with the
``standardwebhooks`` library (as a customer would) and records it; answers ``status``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.openbao import free_port


class Received:
    """One request: its ``webhook-id``, the verified body (None if the signature failed)
    and its headers."""

    def __init__(
        self, event_id: str | None, body: Any, headers: dict[str, str], status: int
    ) -> None:
        self.event_id = event_id
        self.body = body
        self.headers = headers
        self.status = status


class WebhookReceiver:
    """``with WebhookReceiver(secret) as receiver: receiver.url``; ``status`` is what it
    answers (200; set 500 to refuse); ``received`` holds every request, verified or not."""

    def __init__(self, secret: str, *, status: int = 200) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.status = status
        self.received: list[Received] = []
        self._lock = threading.Lock()
        verifier = Webhook(secret)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body go in two writes: with Nagle's algorithm, the body
            # waits for the client's delayed ACK (40 ms a request on Linux loopback).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = verifier.verify(raw, headers)
                except WebhookVerificationError:
                    body = None
                status = owner.status
                with owner._lock:
                    owner.received.append(
                        Received(headers.get("webhook-id"), body, headers, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def verified(self) -> list[Received]:
        """The requests whose signature verified, in arrival order."""
        with self._lock:
            return [r for r in self.received if r.body is not None]

    def delivered_ids(self) -> set[str]:
        """The ids of the events that arrived verified and were answered 2xx."""
        return {r.event_id for r in self.verified() if r.event_id and 200 <= r.status < 300}

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def dump(self) -> str:
        """What arrived, for assertion messages (ids and verification only)."""
        return json.dumps([[r.event_id, r.body is not None] for r in self.received])
