"""Rotation periods as typed on the command line (shared/cli/_periods.py)."""

from __future__ import annotations

import pytest

from shared.cli._output import UsageError
from shared.cli._periods import format_period, parse_period


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 2_592_000), ("12h", 43_200), ("1h30m", 5400), ("3600", 3600), ("90s", 90),
     ("1d2h3m4s", 93_784), ("0", 0), ("off", 0), (" OFF ", 0)],
)  # fmt: skip
def test_periods_parse(text: str, seconds: int) -> None:
    """Durations in d/h/m/s (combined), bare seconds, and 0/off."""
    assert parse_period(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-1h", "1x", "30 d", "h", "1.5h", "1h1d"])
def test_bad_periods_are_usage_errors(text: str) -> None:
    """Anything else is a usage error that shows the accepted forms."""
    with pytest.raises(UsageError) as caught:
        parse_period(text)
    assert "such as 30d" in caught.value.detail


def test_periods_print_back() -> None:
    """Seconds print in the largest units: 30d, 1h30m; 0 is off."""
    assert [format_period(s) for s in (2_592_000, 5400, 3600, 0)] == ["30d", "1h30m", "1h", "off"]
