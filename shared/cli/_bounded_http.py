"""uvicorn's httptools protocol with bounded request heads (issue 11, finding 5).

httptools (llhttp) has no limit on the request line and headers, and uvicorn offers one only
for h11 (``h11_max_incomplete_event_size``); an ASGI middleware is too late (the headers
are parsed and held by then). This thin subclass bounds each request's head:

- its size: the URL and headers as received (name, value, 4 bytes of framing each) at most
  :data:`MAX_HEAD_BYTES`. httptools hands a header over only once it is complete and keeps
  the part received so far itself, so the bytes received while a head is incomplete are
  counted too: a single endless header is refused after one read past the limit, not when
  it ends;
- its number of headers: at most :data:`MAX_HEADERS`.

A head over either limit is answered 431 (RFC 6585) and the connection is closed.

It also sends each response's head with its body, in one write (:class:`_HeadWithBody`):
uvicorn writes them apart, and a system call per write is about a tenth of a small
request's CPU on our machines (issue 17).
"""

from __future__ import annotations

import json
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["MAX_HEADERS", "MAX_HEAD_BYTES", "BoundedHttpToolsProtocol"]

#: Like common proxies (nginx: ``large_client_header_buffers 4 8k``): 16 KiB of head.
MAX_HEAD_BYTES: Final = 16 * 1024
#: Far above what a client sends (a dozen or so) and below what costs us anything.
MAX_HEADERS: Final = 100

_BODY = json.dumps(
    {
        "type": "about:blank",
        "title": "Request header fields too large",
        "status": 431,
        "detail": f"at most {MAX_HEADERS} header fields and {MAX_HEAD_BYTES} bytes of "
        "request line and headers",
        "code": "HEADERS_TOO_LARGE",
    }
).encode()
_RESPONSE: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/problem+json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"cache-control: no-store\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing (httptools turns it into a parser error)."""


class _HeadWithBody:
    """The transport of one response cycle: a head that a body will follow is held and
    written with the body's first bytes.

    Only a head with a ``Content-Length`` body is held: a HEAD request's, an empty
    answer's (204, an empty 200) and a streaming (chunked) one's are written at once (a
    stream's first chunk may be long in coming), as is everything before the head
    (``100 Continue``). Closing writes what is held first (an app failing after the head).
    """

    __slots__ = ("_cycle", "_held", "_transport")

    def __init__(self, transport: Any, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        cycle = self._cycle
        if self._held is not None:
            data, self._held = self._held + data, None
        elif (
            cycle.response_started
            and not cycle.response_complete
            and cycle.scope["method"] != "HEAD"
            and cycle.expected_content_length > 0
            and data.startswith(b"HTTP/")
        ):
            self._held = data
            return
        self._transport.write(data)

    def close(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` refusing heads over :data:`MAX_HEAD_BYTES` or
    :data:`MAX_HEADERS` with a 431."""

    # Per connection: is a head being received, which message (a counter, so that a read
    # which ends one message and starts the next is not charged to the new one), the bytes
    # received while its head was incomplete (never more than the head: no false refusal),
    # and the exact size and number of its complete headers.
    _in_head = True
    _message = 0
    _head_received = 0
    _head_bytes = 0
    _header_count = 0
    _refused = False

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does, then refuse a head still incomplete past the limit."""
        counting, message = self._in_head, self._message
        super().data_received(data)
        if not (counting and self._in_head and self._message == message) or self._refused:
            return
        self._head_received += len(data)
        if self._head_received > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse()

    def send_400_response(self, msg: str) -> None:
        """A parser error: ours (a limit, raised from a callback) is a 431."""
        if self._refused:
            self._refuse()
        else:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        """A new request: its head starts at zero."""
        super().on_message_begin()
        self._in_head = True
        self._head_received = self._head_bytes = self._header_count = 0

    def on_url(self, url: bytes) -> None:
        """Count the URL towards the head."""
        self._charge(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count a complete header, by number and size."""
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            self._refused = True
            raise _HeadTooLarge
        self._charge(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is over: what follows is body. The new cycle writes through a
        :class:`_HeadWithBody` (its task has not run yet)."""
        self._in_head = False
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous:
            cycle.transport = _HeadWithBody(self.transport, cycle)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        """The next bytes start another message."""
        self._message += 1
        self._in_head = True
        self._head_received = self._head_bytes = self._header_count = 0
        super().on_message_complete()

    def _charge(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refused = True
            raise _HeadTooLarge

    def _refuse(self) -> None:
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_RESPONSE)
            self.transport.close()
