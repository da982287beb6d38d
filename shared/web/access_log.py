"""Structured JSON access logs as plain ASGI middleware (no web framework imported).

One line per request, written to the JSON log stream (stderr) without making a ``logging``
record (see :class:`_Lines`): method, path (never the query string: tokens must not be logged,
and a careless client may put one there), status, duration, client address, and the
``client_id`` a handler recorded in ``scope["state"]`` when there is one. No headers, no
bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

__all__ = [
    "AccessLogMiddleware",
    "JsonFormatter",
    "configure_json_logging",
    "json_handler",
    "log_unexpected",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("access")
_encode = msgspec.json.Encoder().encode


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and ``extra``."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            data["exc_type"] = record.exc_info[0].__name__
        return json.dumps(data, default=str)


def json_handler() -> logging.StreamHandler[Any] | None:
    """The root logger's JSON handler (:func:`configure_json_logging`), if there is one."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter) and isinstance(
            handler, logging.StreamHandler
        ):
            return handler
    return None


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send every log record to stderr as JSON (idempotent)."""
    root = logging.getLogger()
    if json_handler() is not None:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def log_unexpected(log: logging.Logger, exc: BaseException, path: str) -> None:
    """Log an unexpected exception by type and file:line frames, never by message: a
    message (like a request body or header) may carry a token."""
    frames = [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        for frame in traceback.extract_tb(exc.__traceback__)
    ]
    log.error(
        "unhandled error", extra={"path": path, "exc_type": type(exc).__name__, "frames": frames}
    )


class _Lines:
    """Access lines waiting for the end of the event loop's turn, written then in one go.

    Through ``logging`` a line cost about a tenth of a request's CPU (a record, a caller
    lookup, a formatter, a write and a flush per request; issue 17); here a line is one
    msgspec encode, and a loaded worker writes the lines of a whole loop turn with one
    system call. A line waits at most until the loop's next turn, never for more traffic.
    """

    def __init__(self) -> None:
        self._pending: list[bytes] = []

    def add(self, line: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(line)

    def flush(self) -> None:
        """Write what is pending where the JSON log records go (stderr), under the lock
        of their handler, so that a line never interleaves with a record of another thread."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        data = b"".join(pending).decode()
        handler = json_handler()
        try:
            if handler is None:
                sys.stderr.write(data)
                sys.stderr.flush()
                return
            handler.acquire()
            try:
                handler.stream.write(data)
                handler.stream.flush()
            finally:
                handler.release()
        except (OSError, ValueError):
            # stderr closed or full: losing access lines must not fail requests.
            pass


class AccessLogMiddleware:
    """Wraps an ASGI app and writes one JSON line per HTTP request to stderr.

    The line has the fields a record of the ``access`` logger had through
    :class:`JsonFormatter` (``ts``, ``level``, ``logger``, ``msg``, then the request's), and
    is written only while that logger is enabled for INFO, so logging's configuration
    still turns it off.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lines = _Lines()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            if logger.isEnabledFor(logging.INFO):
                client = scope.get("client")
                state = scope.get("state") or {}
                self._lines.add(
                    _encode(
                        {
                            "ts": round(time.time(), 3),
                            "level": "info",
                            "logger": "access",
                            "msg": "request",
                            "method": scope.get("method"),
                            "path": scope.get("path"),
                            "status": status,
                            "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                            "client": client[0] if client else None,
                            "client_id": state.get("client_id"),
                        }
                    )
                    + b"\n"
                )
