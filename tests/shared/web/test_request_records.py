"""The access log and the metrics middleware, driven as ASGI apps on a real event loop."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shared.web.access_log import AccessLogMiddleware, configure_json_logging, json_handler
from shared.web.metrics import MetricsMiddleware


class _Counted(io.StringIO):
    """A log stream that counts its writes."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stream() -> Iterator[_Counted]:
    """The JSON handler's stream, replaced by a counting buffer; the access logger on."""
    configure_json_logging()
    handler = json_handler()
    assert handler is not None
    counted = _Counted()
    previous = handler.setStream(counted)
    logging.getLogger("access").setLevel(logging.INFO)
    yield counted
    logging.getLogger("access").setLevel(logging.NOTSET)
    handler.setStream(previous)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _app(status: int, *, fail: bool = False, pause: bool = True) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})["client_id"] = "acme"
        if pause:
            await asyncio.sleep(0)
        if fail:
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def _scope(path: str = "/v1/encrypt", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": query,
        "client": ("127.0.0.9", 5555),
        "headers": [(b"authorization", b"Bearer secret-bearer")],
    }


async def _call(app: Any, scope: dict[str, Any]) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    await app(scope, receive, send)


def test_one_line_per_request_one_write_per_loop_turn(stream: _Counted) -> None:
    """Ten requests finishing in one turn of the loop give ten JSON lines, written together
    at the end of that turn; no query string, header or body reaches them."""
    app = AccessLogMiddleware(_app(201, pause=False))

    async def main() -> None:
        await asyncio.gather(*(_call(app, _scope(query=b"token=a.b.c")) for _ in range(10)))
        await asyncio.sleep(0)

    asyncio.run(main())
    lines = _lines(stream)
    assert len(lines) == 10
    assert stream.writes == 1
    first = lines[0]
    assert set(first) == {
        "ts",
        "level",
        "logger",
        "msg",
        "method",
        "path",
        "status",
        "duration_ms",
        "client",
        "client_id",
    }
    assert (first["logger"], first["level"], first["msg"]) == ("access", "info", "request")
    assert (first["method"], first["path"], first["status"]) == ("POST", "/v1/encrypt", 201)
    assert (first["client"], first["client_id"]) == ("127.0.0.9", "acme")
    text = stream.getvalue()
    assert "a.b.c" not in text
    assert "secret-bearer" not in text


def test_a_failed_request_is_logged_as_500(stream: _Counted) -> None:
    app = AccessLogMiddleware(_app(200, fail=True))

    async def main() -> None:
        with pytest.raises(RuntimeError):
            await _call(app, _scope())
        await asyncio.sleep(0)

    asyncio.run(main())
    assert [line["status"] for line in _lines(stream)] == [500]


def test_the_access_logger_level_still_turns_it_off(stream: _Counted) -> None:
    logging.getLogger("access").setLevel(logging.WARNING)
    app = AccessLogMiddleware(_app(200))

    async def main() -> None:
        await _call(app, _scope())
        await asyncio.sleep(0)

    asyncio.run(main())
    assert _lines(stream) == []


def _sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_metrics_count_by_route_template_and_status() -> None:
    """Counts and durations per (method, template, status); 5xx also as errors; the
    in-progress gauge returns to zero."""
    labels = {"method": "POST", "path": "/v1/things/{id}", "app_name": "test_records"}
    ok = MetricsMiddleware(_app(200), app_name="test_records", prefix="test_records")
    broken = MetricsMiddleware(_app(503), app_name="test_records", prefix="test_records")
    failing = MetricsMiddleware(
        _app(200, fail=True), app_name="test_records", prefix="test_records"
    )
    scope = {**_scope("/v1/things/42"), "path_template": "/v1/things/{id}"}

    async def main() -> None:
        for _ in range(3):
            await _call(ok, dict(scope))
        await _call(broken, dict(scope))
        with pytest.raises(RuntimeError):
            await _call(failing, dict(scope))

    asyncio.run(main())
    assert _sample("test_records_requests_total", status_code="200", **labels) == 3
    assert _sample("test_records_requests_total", status_code="503", **labels) == 1
    assert _sample("test_records_requests_total", status_code="500", **labels) == 1
    assert _sample("test_records_request_duration_seconds_count", status_code="200", **labels) == 3
    assert _sample("test_records_requests_error_total", status_code="503", **labels) == 1
    assert _sample("test_records_requests_error_total", status_code="500", **labels) == 1
    assert _sample("test_records_requests_error_total", status_code="200", **labels) == 0
    assert _sample("test_records_requests_in_progress", status_code="200", **labels) == 0
    # The concrete path never becomes a label.
    assert (
        _sample(
            "test_records_requests_total", status_code="200", **{**labels, "path": "/v1/things/42"}
        )
        == 0
    )
