"""Texts about request size limits, derived from the limits so that they never disagree."""

from __future__ import annotations

__all__ = ["kib", "too_large"]


def kib(size: int) -> str:
    """A byte limit as people read it: ``65536`` is ``"64 KiB"``."""
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} bytes"


def too_large(limit: int | None = None) -> str:
    """The detail of a 413 answer, naming ``limit`` when there is one for every route."""
    detail = "the request body is too large"
    return f"{detail} (limit {kib(limit)})" if limit is not None else detail
