"""The progress bar of ``tokenctl encrypt-file``, drawn on stderr while the run goes."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """done/total, rate and ETA on stderr: redrawn in place every 0.2 s on a terminal,
    else one line every few seconds (logs of a CI job or a cron run). The run's
    :class:`shared.client.Progress`."""

    #: The rate is measured over this many seconds (it changes when 429s start).
    _WINDOW = 10.0

    def __init__(self, stream: TextIO, *, interval: float | None = None) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval or (0.2 if self._tty else 5.0)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._total = self._done = 0
        self._samples: deque[tuple[float, int]] = deque()

    def start(self, total: int, done: int) -> None:
        self._total, self._done = total, done
        self._samples.append((time.monotonic(), done))
        if done:
            print(f"resuming: {done:,} of {total:,} rows already done", file=self._stream)
        if done < total:
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()

    def advance(self, rows: int) -> None:
        with self._lock:
            self._done += rows

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

    def _draw(self, *, final: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            done = self._done
        while len(self._samples) > 1 and now - self._samples[0][0] > self._WINDOW:
            self._samples.popleft()
        since, then = self._samples[0]
        self._samples.append((now, done))
        rate = (done - then) / (now - since) if now > since else 0.0
        total = max(self._total, 1)
        eta = f"ETA {_duration((self._total - done) / rate)}" if rate > 0 else "ETA -"
        filled = int(24 * done / total)
        line = (
            f"[{'#' * filled}{'.' * (24 - filled)}] {done:,}/{self._total:,} "
            f"{100 * done // total}%  {rate:,.0f} rows/s  {'done' if final else eta}"
        )
        if self._tty:
            self._stream.write(f"\r{line}\x1b[K" + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
