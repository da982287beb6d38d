"""The progress bar of ``tokenctl encrypt-file``, drawn on stderr while the run goes."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """done/total, rate and ETA on stderr: redrawn in place every 0.2 s on a terminal,
    else one line every few seconds (logs of a CI job or a cron run). The run's
    :class:`shared.client.Progress`.

    While the run waits (a 429's ``Retry-After``, a retry's back-off) the ETA gives way to
    what it waits for and how long (``waiting 1.2 s: rate limited (429)``), and the time
    spent waiting is added up, by reason, on every later line: a run slowed by the
    account's rate limit says so rather than sit still with an ETA.
    """

    #: The rate is measured over this many seconds (it changes when 429s start).
    _WINDOW = 10.0

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval or (0.2 if self._tty else 5.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._total = self._done = 0
        self._samples: deque[tuple[float, int]] = deque()
        #: The current wait: until when, and why.
        self._wait_until = 0.0
        self._wait_reason = ""
        #: Seconds waited so far by reason (overlapping waits of several workers count once).
        self._waited: dict[str, float] = {}

    def start(self, total: int, done: int) -> None:
        self._total, self._done = total, done
        self._samples.append((self._clock(), done))
        if done:
            print(f"resuming: {done:,} of {total:,} rows already done", file=self._stream)
        if done < total:
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()

    def advance(self, rows: int) -> None:
        with self._lock:
            self._done += rows

    def waiting(self, seconds: float, reason: str) -> None:
        """The run sends nothing for ``seconds`` from now, because of ``reason``."""
        now = self._clock()
        until = now + max(0.0, seconds)
        with self._lock:
            # Only the part not already covered by the current wait is new waiting.
            new = max(0.0, until - max(now, self._wait_until))
            self._waited[reason] = self._waited.get(reason, 0.0) + new
            if until >= self._wait_until:
                self._wait_until, self._wait_reason = until, reason

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
            self._draw(final=True)

    def stop(self) -> None:
        """End without the final "done" line (the run failed or left rows: its error or
        summary says so); on a terminal the bar's line is cleared."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._tty:
                self._stream.write("\r\x1b[K")
                self._stream.flush()

    def _loop(self) -> None:
        while not self._closed.wait(self._interval):
            self._draw()

    def line(self, *, final: bool = False) -> str:
        """The bar as it would be drawn now (without the terminal's control characters)."""
        now = self._clock()
        with self._lock:
            done, until, reason = self._done, self._wait_until, self._wait_reason
            waited = dict(self._waited)
        while len(self._samples) > 1 and now - self._samples[0][0] > self._WINDOW:
            self._samples.popleft()
        since, then = self._samples[0]
        self._samples.append((now, done))
        rate = (done - then) / (now - since) if now > since else 0.0
        total = max(self._total, 1)
        left = max(0, self._total - done)
        if final:
            status = "done"
        elif now < until:
            status = f"waiting {until - now:.1f} s: {reason}"
        elif rate > 0:
            # Rounded up: rows left never show as 0:00:00.
            status = f"ETA {_duration(math.ceil(left / rate))}"
        else:
            status = "ETA -"
        if waited:
            status += "; waited " + ", ".join(f"{s:.1f} s: {r}" for r, s in waited.items())
        filled = int(24 * done / total)
        return (
            f"[{'#' * filled}{'.' * (24 - filled)}] {done:,}/{self._total:,} "
            f"{100 * done // total}%  {rate:,.0f} rows/s  {status}"
        )

    def _draw(self, *, final: bool = False) -> None:
        line = self.line(final=final)
        if self._tty:
            self._stream.write(f"\r{line}\x1b[K" + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _duration(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
