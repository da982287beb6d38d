"""Making test tokens with joserfc (the customer's side), and raw tweaks for hostile ones."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

KEYS = Path(__file__).parents[1] / "keys"

#: Test key file stem for each asymmetric algorithm.
KEY_FOR_ALG = {
    "RS256": "rsa-2048",
    "RS384": "rsa-2048",
    "RS512": "rsa-2048",
    "ES256": "ec-p256",
    "ES384": "ec-p384",
    "ES512": "ec-p521",
}


def pem(name: str, part: str = "public") -> str:
    """Text of ``tests/keys/<name>-<part>.pem``."""
    return (KEYS / f"{name}-{part}.pem").read_text()


def private_key(name: str) -> RSAKey | ECKey:
    """A joserfc private key from ``tests/keys``."""
    data = (KEYS / f"{name}-private.pem").read_bytes()
    return RSAKey.import_key(data) if name.startswith("rsa") else ECKey.import_key(data)


def claims(campaign: str | int = "1001", **extra: Any) -> dict[str, Any]:
    """Typical secure-token claims, valid for an hour from now."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "participant-42",
        "campaignId": campaign,
        "iat": now,
        "exp": now + 3600,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def bearer_claims(issuer: str, subject: str, **extra: Any) -> dict[str, Any]:
    """The claims of a valid Crypto API bearer (RFC 9068) from ``issuer`` for account
    ``subject``: fresh ``iat``, five minutes to live; ``extra`` adds or replaces claims."""
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": subject,
        "client_id": subject,
        "aud": "crypto-api",
        "scope": "token:encrypt",
        "iat": now,
        "exp": now + 300,
        **extra,
    }


def sign(
    payload: dict[str, Any],
    alg: str,
    key: RSAKey | ECKey | OctKey | bytes | str,
    **header: Any,
) -> str:
    """A compact JWS signed by joserfc. ``key``: a joserfc key, raw HMAC bytes, or a
    ``tests/keys`` stem."""
    if isinstance(key, str):
        key = private_key(key)
    elif isinstance(key, bytes):
        key = OctKey.import_key(key)
    return jws.serialize_compact(
        {"alg": alg, "typ": "JWT", **header}, json.dumps(payload), key, algorithms=[alg]
    )


def b64(data: bytes | str | dict[str, Any]) -> str:
    """base64url without padding, of bytes, text or a JSON object."""
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    """Inverse of :func:`b64`."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def flip(segment: str, index: int = -3) -> str:
    """Flip one bit of a segment's decoded bytes (a truncated tag/signature check needs more)."""
    raw = bytearray(unb64(segment))
    raw[index] ^= 0x01
    return b64(bytes(raw))


def replace_part(token: str, index: int, value: str) -> str:
    """The token with dot-separated part ``index`` replaced."""
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)
