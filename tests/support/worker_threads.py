"""Take every worker thread of an app's pool for a while (borrowing the app's own limiter),
so that a call needing one waits for their release: how a test tells a call served on the
event loop from one sent to a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar.testing import TestClient


@contextmanager
def threads_taken(client: TestClient[Any], pool: str, seconds: float) -> Iterator[None]:
    """Every thread of ``client.app.state[pool]`` taken now, given back after ``seconds``
    (by a timer: the calls made meanwhile may be the ones waiting for them)."""
    threads = client.app.state[pool]
    holders = [object() for _ in range(int(threads.total_tokens))]
    with client.portal() as portal:
        for holder in holders:
            portal.call(threads.acquire_on_behalf_of_nowait, holder)

        def release() -> None:
            for holder in holders:
                portal.call(threads.release_on_behalf_of, holder)

        timer = threading.Timer(seconds, release)
        timer.start()
        try:
            yield
        finally:
            timer.join()
