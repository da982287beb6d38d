"""A real TCP forwarder on loopback that can be cut and restored, to take a server "down"
without losing its state (an in-memory `bao server -dev` cannot be restarted with its data).

While stopped, new connections are refused and the connections that were open are reset,
which is what a client sees when the server host goes away; ``start()`` again listens on
the same port.

With ``delay`` set, every chunk of the server's answers is held that many seconds before it
is passed on: a slow server (or a slow network), whose effect on open connections starts
with the next chunk and ends when ``delay`` is set back to 0.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from tests.support.openbao import free_port

_CHUNK = 65536
#: SO_LINGER on, timeout 0: close() sends a RST instead of a FIN.
_RESET = struct.pack("ii", 1, 0)


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port``, one thread per direction.

    ``with TcpProxy(host, port) as proxy: proxy.addr``; ``stop()`` refuses and resets,
    ``start()`` serves again on the same port.
    """

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        #: Connections accepted since the proxy was made (tests check traffic went through).
        self.accepted = 0
        #: Seconds each chunk from the target waits before it is forwarded (0: none).
        self.delay = 0.0

    def start(self) -> TcpProxy:
        """Listen (again) on the proxy's port."""
        with self._lock:
            if self._listener is not None:
                return self
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            listener.settimeout(0.05)  # the accept loop checks for stop() this often
            self._listener = listener
            self._stopping = threading.Event()
            thread = threading.Thread(
                target=self._accept, args=(listener, self._stopping), daemon=True
            )
            self._threads = [thread]
        thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection."""
        with self._lock:
            self._stopping.set()
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
            threads, self._threads = self._threads, []
        if listener is not None:
            listener.close()
        for sock in sockets:
            _reset(sock)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self, listener: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by stop()
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                # Forward each chunk as it comes: Nagle's algorithm would hold a small one
                # back until the peer's delayed ACK (40 ms on Linux loopback).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if stopping.is_set():  # stop() ran meanwhile: it must not miss these
                    _reset(client)
                    _reset(upstream)
                    return
                self.accepted += 1
                self._sockets.update((client, upstream))
                pumps = [
                    threading.Thread(target=self._pump, args=(a, b, slow), daemon=True)
                    for a, b, slow in ((client, upstream, False), (upstream, client, True))
                ]
                self._threads = [t for t in self._threads if t.is_alive()] + pumps
            for pump in pumps:
                pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket, slow: bool = False) -> None:
        """Copy ``source`` to ``sink`` until either side ends; then close both. ``slow``:
        the answers' direction, held back by ``delay``."""
        try:
            while data := source.recv(_CHUNK):
                if slow and self.delay:
                    time.sleep(self.delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def _reset(sock: socket.socket) -> None:
    """Abort a connection: the peer gets a RST (connection reset), not an orderly close."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    with contextlib.suppress(OSError):
        # Wakes a pump blocked in recv() on it (close() alone would not); sends nothing.
        sock.shutdown(socket.SHUT_RD)
    sock.close()
