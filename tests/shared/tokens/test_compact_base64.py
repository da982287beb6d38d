"""The format gate's base64url decoding against the definition (RFC 4648 §5, no padding,
canonical): every string of the alphabet up to a few characters, and random longer ones,
decode exactly when the standard library round-trips them, to the same bytes."""

from __future__ import annotations

import base64
import itertools
import random

import pytest

from shared.errors import TokenInvalidFormat
from shared.tokens.compact import _decode_segment

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _reference(segment: str) -> bytes | None:
    """The bytes ``segment`` canonically encodes without padding, or None."""
    if len(segment) % 4 == 1 or any(c not in ALPHABET for c in segment):
        return None
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    canonical = base64.urlsafe_b64encode(data).decode().rstrip("=")
    return data if canonical == segment else None


def _ours(segment: str) -> bytes | None:
    try:
        return _decode_segment(segment, "segment")
    except TokenInvalidFormat:
        return None


def test_a_newline_inside_a_segment_is_refused() -> None:
    """``$`` matches before a final newline: the alphabet check must not."""
    for segment in ("QQ\n", "QUI\n", "\n"):
        assert _ours(segment) is None


def _samples() -> list[str]:
    short = ["".join(p) for n in range(4) for p in itertools.product("AQgw_-9B", repeat=n)]
    rng = random.Random(7)  # noqa: S311 - reproducible samples, not secrets
    spice = ALPHABET + "=+/ .\n"
    longer = ["".join(rng.choice(spice) for _ in range(rng.randrange(4, 40))) for _ in range(3000)]
    honest = [base64.urlsafe_b64encode(rng.randbytes(n)).decode().rstrip("=") for n in range(64)]
    return short + longer + honest


@pytest.mark.parametrize("chunk", range(4))
def test_decoding_is_the_definition(chunk: int) -> None:
    samples = _samples()[chunk::4]
    mismatches = [s for s in samples if _ours(s) != _reference(s)]
    assert mismatches == []
    assert any(_reference(s) is not None for s in samples)
    assert any(_reference(s) is None for s in samples)
