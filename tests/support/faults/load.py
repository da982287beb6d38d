"""A small threaded load generator for the fault tests, and the checks every fault shares.

Each client thread sends the calls it is given in turn over its own keep-alive connection,
with a client timeout per request, and records every call (a transport failure too, as
status 0), until told to stop. The checks then hold the fault scenarios to the expected
behaviour: every answer is 2xx or 503 with ``Retry-After`` (or a 4xx the scenario allows),
no call took longer than its bound, the service recovered within a bound once the
dependency was back, and every call got an answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "Call",
    "Load",
    "check_answers",
    "describe",
    "failure_window",
    "first_success_after",
    "slowest",
]

#: A request the load sends: a name (for the checks) and how to send it.
Request = tuple[str, Callable[[httpx.Client], httpx.Response]]


@dataclass(frozen=True)
class Call:
    """One request of the load (monotonic times)."""

    kind: str
    sent: float
    received: float
    #: 0 when no HTTP answer came (connection refused or reset, client timeout).
    status: int
    retry_after: str | None
    body: Any
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.received - self.sent

    @property
    def code(self) -> str | None:
        """Our error code (``code`` of a problem or an OAuth error), if the body has one."""
        return self.body.get("code") if isinstance(self.body, dict) else None

    def __repr__(self) -> str:
        return (
            f"Call({self.kind} {self.status} in {self.seconds:.2f}s at {self.sent:.2f}, "
            f"retry_after={self.retry_after}, code={self.code}, error={self.error[:80]!r})"
        )


#: How often a call broken by a transport error is resent (``retry_transport_errors``).
_RESENDS = 3


class Load:
    """``clients`` threads sending ``requests`` round-robin until :meth:`stop`.

    Args:
        base_url: where the relative URLs of the requests go (each request may also use an
            absolute URL).
        requests: (kind, send) pairs; each client starts at a different one.
        clients: concurrent clients, each with its own connection.
        timeout: the client's timeout per request (a hang shows as status 0).
        pause: seconds a client waits between its calls (keeps the work to check later
            reasonable).
        max_seconds: a bound on the run whatever happens.
        retry_transport_errors: resend a request after a transport failure, up to 3 times
            (what a client does when a connection breaks under it); every attempt is
            recorded, the resends with ``kind + "/retry"``.
    """

    def __init__(
        self,
        base_url: str,
        requests: list[Request],
        *,
        clients: int = 4,
        timeout: float = 15.0,
        pause: float = 0.0,
        max_seconds: float = 60.0,
        retry_transport_errors: bool = False,
    ) -> None:
        self._base_url = base_url
        self._requests = requests
        self._timeout = timeout
        self._pause = pause
        self._retry = retry_transport_errors
        self._deadline = time.monotonic() + max_seconds
        self._stop = threading.Event()
        self._results: list[list[Call]] = [[] for _ in range(clients)]
        self._threads = [
            threading.Thread(target=self._run, args=(n, calls), daemon=True)
            for n, calls in enumerate(self._results)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._timeout + 5)

    def stop(self) -> list[Call]:
        """Stop the clients, join them, and return every call in the order sent."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._timeout + 5)
        hung = [t for t in self._threads if t.is_alive()]
        assert not hung, f"{len(hung)} load client(s) still waiting: a request hung"
        return sorted((c for calls in self._results for c in calls), key=lambda c: c.sent)

    def snapshot(self) -> list[Call]:
        """The calls recorded so far (the load goes on)."""
        return [c for calls in self._results for c in list(calls)]

    def _run(self, start: int, calls: list[Call]) -> None:
        with httpx.Client(base_url=self._base_url, timeout=self._timeout) as http:
            turn = start
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                kind, send = self._requests[turn % len(self._requests)]
                turn += 1
                call = _send(http, kind, send)
                calls.append(call)
                resends = _RESENDS if self._retry else 0
                while call.status == 0 and resends:
                    # A resend can itself meet the fault (a new connection handed to a
                    # worker in the instant it is killed), so a few, like a client would.
                    resends -= 1
                    call = _send(http, f"{kind}/retry", send)
                    calls.append(call)
                self._stop.wait(self._pause)


def _send(http: httpx.Client, kind: str, send: Callable[[httpx.Client], httpx.Response]) -> Call:
    sent = time.monotonic()
    try:
        response = send(http)
    except httpx.HTTPError as exc:
        return Call(kind, sent, time.monotonic(), 0, None, None, repr(exc))
    received = time.monotonic()
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    retry_after = response.headers.get("retry-after")
    return Call(kind, sent, received, response.status_code, retry_after, body)


def check_answers(
    calls: Iterable[Call], allowed_4xx: Mapping[str, set[int]] | None = None
) -> list[Call]:
    """The calls that break the contract: no answer at all, a 5xx other than 503, a 503
    without a numeric ``Retry-After``, or a 4xx not allowed for that kind."""
    allowed = allowed_4xx or {}
    bad = []
    for call in calls:
        ok = (
            200 <= call.status < 300
            or (call.status == 503 and (call.retry_after or "").isdigit())
            or (400 <= call.status < 500 and call.status in allowed.get(call.kind, set()))
        )
        if not ok:
            bad.append(call)
    return bad


def slowest(calls: Iterable[Call]) -> Call | None:
    """The call that took longest."""
    return max(calls, key=lambda c: c.seconds, default=None)


def first_success_after(calls: Iterable[Call], when: float, kind: str | None = None) -> float:
    """Seconds from ``when`` to the answer of the first successful call sent after it (of
    ``kind``, when given); infinity if there is none."""
    for call in sorted(calls, key=lambda c: c.sent):
        if call.sent >= when and 200 <= call.status < 300 and kind in (None, call.kind):
            return call.received - when
    return float("inf")


def failure_window(calls: Iterable[Call], kind: str | None = None) -> tuple[int, float]:
    """How many calls (of ``kind``) failed, and the seconds from the first failed call's
    sending to the last failed call's answer (0 when none failed)."""
    failed = [c for c in calls if not 200 <= c.status < 300 and kind in (None, c.kind)]
    if not failed:
        return 0, 0.0
    return len(failed), max(c.received for c in failed) - min(c.sent for c in failed)


def describe(calls: Iterable[Call], origin: float = 0.0) -> str:
    """Per kind: calls by status and the slowest, for assertion messages and reports."""
    by_kind: dict[str, list[Call]] = {}
    for call in calls:
        by_kind.setdefault(call.kind, []).append(call)
    lines = []
    for kind, same in sorted(by_kind.items()):
        statuses: dict[int, int] = {}
        for call in same:
            statuses[call.status] = statuses.get(call.status, 0) + 1
        worst = max(same, key=lambda c: c.seconds)
        lines.append(
            f"{kind}: {dict(sorted(statuses.items()))}, slowest {worst.seconds:.2f}s "
            f"(sent at +{worst.sent - origin:.2f}s)"
        )
    return "\n".join(lines)
