"""The access lines an in-process app writes, read from the JSON log handler's stream."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.web.access_log import configure_json_logging, json_handler


class AccessLines:
    """What was written to the JSON log stream while :func:`access_lines` was open."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """The access lines, parsed (other JSON records of the stream left out)."""
        lines = [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("logger") == "access"]


@contextmanager
def access_lines() -> Iterator[AccessLines]:
    """Swap the JSON handler's stream for a buffer (the lines of every app of the process
    and every record of the root logger go there meanwhile)."""
    configure_json_logging()
    handler = json_handler()
    assert handler is not None
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield AccessLines(buffer)
    finally:
        handler.setStream(previous)
