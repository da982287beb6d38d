"""Rotation periods as people type them (``30d``, ``12h``, ``1h30m``, ``off``) and back."""

from __future__ import annotations

import re

from shared.cli._output import UsageError

__all__ = ["format_period", "parse_period"]

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_period(text: str) -> int:
    """Seconds in a rotation period: ``30d``, ``12h``, ``1h30m``, ``3600`` (seconds), or
    ``0``/``off``.

    Raises:
        UsageError: anything else.
    """
    value = text.strip().lower()
    if value in {"0", "off"}:
        return 0
    if value.isdigit():
        return int(value)
    match = _DURATION.fullmatch(value)
    if not value or match is None:
        raise UsageError(
            f"--every takes a duration such as 30d, 12h or 1h30m (units d, h, m, s), "
            f"or 0/off to stop rotating; got {text!r}"
        )
    return sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS.values(), strict=True) if n)


def format_period(seconds: int) -> str:
    """``2592000`` → ``30d``, ``5400`` → ``1h30m``; ``0`` → ``off``."""
    if seconds == 0:
        return "off"
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
