"""Small servers that misbehave as a healthy one cannot on demand: one dripping its answer
byte by byte, one losing every answer after reading the request."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class DrippingServer:
    """A raw TCP server that sends ``head`` at once, then ``payload`` to each connection
    ``interval`` seconds per byte (0: all at once): a key server dripping its status line and
    headers, or (with the headers as ``head``) its body. Counts connections."""

    def __init__(self, payload: bytes, interval: float = 0.0, *, head: bytes = b"") -> None:
        self.head = head
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
            if self.head:
                conn.sendall(self.head)
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


class LosesAnswers:
    """A server that reads each request, then resets the connection without answering
    (the request reached "Vault", its answer was lost): counts requests."""

    def __init__(self) -> None:
        self.requests = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.recv(65536)
            self.requests += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self._sock.close()
