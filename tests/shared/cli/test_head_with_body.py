"""`tokenctl serve`'s protocol writes a response's head with its body: every kind of
response still arrives whole over a real socket (uvicorn in a thread), and a head that a
body follows reaches the transport in the same write as the body."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from shared.cli._bounded_http import _HeadWithBody
from tests.support.asgi_server import AsgiServer


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    while (await receive()).get("more_body"):
        pass
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/broken":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"9")]}
        )
        raise RuntimeError("fails after its head")
    body = b'{"ok":true}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server() -> Any:
    with AsgiServer(_app) as running:
        yield running


def _exchange(port: int, request: bytes, *, wait: float = 0.3) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        deadline = time.monotonic() + wait
        received = b""
        sock.settimeout(0.1)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            received += chunk
        return received


def _get(path: str, method: str = "GET", extra: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\n".encode() + extra + b"\r\n"


def test_every_kind_of_response_arrives_whole(server: AsgiServer) -> None:
    port = server.port
    ok = _exchange(port, _get("/"))
    assert ok.startswith(b"HTTP/1.1 200 OK\r\n"), ok
    assert ok.endswith(b'\r\n\r\n{"ok":true}'), ok
    head = _exchange(port, _get("/", "HEAD"))
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert head.endswith(b"\r\n\r\n"), head
    empty = _exchange(port, _get("/empty"))
    assert empty.startswith(b"HTTP/1.1 204 No Content\r\n"), empty
    stream = _exchange(port, _get("/stream"), wait=1.0)
    assert stream.startswith(b"HTTP/1.1 200 OK\r\n"), stream
    assert b"transfer-encoding: chunked" in stream
    assert stream.endswith(b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"), stream
    # The head was written before the app failed: it is sent, then the connection closes.
    broken = _exchange(port, _get("/broken"))
    assert broken.startswith(b"HTTP/1.1 200 OK\r\n"), broken
    assert broken.endswith(b"\r\n\r\n"), broken
    # 100 Continue goes out before the body is read, then the answer.
    body = b'{"a":1}'
    expect = _get("/", "POST", b"Expect: 100-continue\r\nContent-Length: 7\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(expect)
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
    # Keep-alive: two requests on one connection, two whole answers.
    two = _exchange(port, _get("/") * 2)
    assert two.count(b'{"ok":true}') == 2, two


class _Recording:
    """A transport recording its writes (the write boundaries a socket does not show)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class _Cycle:
    def __init__(self, method: str = "GET", length: int = 11, chunked: bool = False) -> None:
        self.scope = {"method": method}
        self.response_started = True
        self.response_complete = False
        self.expected_content_length = length
        self.chunked_encoding = chunked


def test_a_head_with_a_body_is_written_with_it() -> None:
    transport = _Recording()
    wrapped = _HeadWithBody(transport, _Cycle())  # type: ignore[arg-type]
    wrapped.write(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n")
    assert transport.writes == []
    wrapped.write(b'{"ok":true}')
    assert transport.writes == [b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok":true}']
    assert not wrapped.is_closing()


@pytest.mark.parametrize(
    "cycle",
    [_Cycle(method="HEAD"), _Cycle(length=0), _Cycle(length=0, chunked=True)],
    ids=["head-request", "no-body", "streaming"],
)
def test_a_head_without_a_body_is_written_at_once(cycle: _Cycle) -> None:
    transport = _Recording()
    _HeadWithBody(transport, cycle).write(b"HTTP/1.1 204 No Content\r\n\r\n")  # type: ignore[arg-type]
    assert transport.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"]


def test_closing_writes_a_held_head_first() -> None:
    transport = _Recording()
    wrapped = _HeadWithBody(transport, _Cycle(length=9))  # type: ignore[arg-type]
    wrapped.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == []
    wrapped.close()
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
    assert transport.closed
