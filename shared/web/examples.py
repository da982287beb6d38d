"""Visibly fake tokens for the OpenAPI documents' examples.

Real base64url JSON headers and claims, and segments that decode to ``fake-…``, so that an
example never passes for a real token (nor is one).
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["fake_jws", "segment"]


def segment(value: dict[str, Any] | bytes) -> str:
    """One base64url segment of a compact token: JSON (compact) or raw bytes."""
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def fake_jws(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact JWS with this header and these claims, signed by ``fake-signature``."""
    return ".".join((segment(header), segment(claims), segment(b"fake-signature")))
