"""encrypt-file's progress bar: rate, ETA, and what it waits for while a 429 is waited out."""

from __future__ import annotations

import io
import time

from shared.cli._progress_bar import ProgressBar

LIMITED = "rate limited (429)"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_wait_on_429s_replaces_the_eta_and_is_added_up() -> None:
    """At 50% while a 429 is waited out the bar says what it waits for and how long,
    counting down, never an ETA; afterwards every line carries the time waited, and
    overlapping waits of several workers count once."""
    clock = Clock()
    bar = ProgressBar(io.StringIO(), clock=clock)
    bar.start(20_000, 0)
    clock.now += 1.0
    bar.advance(10_000)
    bar.waiting(1.2, LIMITED)
    line = bar.line()
    assert "10,000/20,000 50%" in line
    assert "waiting 1.2 s: rate limited (429)" in line
    assert "ETA" not in line
    clock.now += 0.5
    bar.waiting(1.0, LIMITED)  # another worker's 429, half inside the current wait
    assert "waiting 1.0 s: rate limited (429)" in bar.line()
    clock.now += 1.5
    bar.advance(500)
    line = bar.line()
    assert "waiting" not in line
    assert "ETA 0:00:" in line
    assert line.endswith("; waited 1.5 s: rate limited (429)")


def test_rows_left_never_show_an_eta_of_zero() -> None:
    """However fast the last seconds went, rows still to do give an ETA of at least a second."""
    clock = Clock()
    bar = ProgressBar(io.StringIO(), clock=clock)
    bar.start(1_000, 0)
    clock.now += 0.1
    bar.advance(999)
    line = bar.line()
    assert "ETA 0:00:01" in line
    assert "ETA 0:00:00" not in line


def test_the_terminal_shows_the_wait_and_the_final_line_its_total() -> None:
    """Drawn on a terminal while a 429 is waited out, the bar shows the wait; its last line
    says done and how long the run waited on the rate limit."""
    stream = TtyBuffer()
    bar = ProgressBar(stream, interval=0.01)
    bar.start(100, 0)
    bar.advance(50)
    bar.waiting(0.3, LIMITED)
    time.sleep(0.1)
    bar.advance(50)
    bar.close()
    text = stream.getvalue()
    assert "50/100 50%" in text
    assert "s: rate limited (429)\x1b[K" in text
    assert "\r[" in text
    assert " waiting 0." in text
    assert "ETA 0:00:00" not in text
    assert "done; waited 0.3 s: rate limited (429)\x1b[K\n" in text
