"""Reading the customer's signing key for ``token sign``, ``token encrypt`` and
``encrypt-file``: a PEM private key (RS*/ES*) or a raw HMAC secret file (HS*)."""

from __future__ import annotations

from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from shared.errors import ConfigurationError

__all__ = ["signing_key"]


def signing_key(path: str, alg: str) -> RSAKey | ECKey | OctKey:
    """The customer's private key (PEM) or HMAC secret (raw bytes), as ``token sign`` reads it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read key file {path!r}: {exc.strerror}") from None
    try:
        if alg.startswith("HS"):
            return OctKey.import_key(data)
        key = RSAKey.import_key(data) if alg.startswith("RS") else ECKey.import_key(data)
    except Exception as exc:
        raise ConfigurationError(f"{path!r} is not a private key usable with {alg}") from exc
    if not key.is_private:
        raise ConfigurationError(f"{path!r} is a public key; signing needs the private key")
    try:  # now, rather than as a failure of the first row or of the exchange
        jwt.encode({"alg": alg}, {}, key, algorithms=[alg])
    except Exception as exc:
        raise ConfigurationError(f"cannot sign {alg} with {path!r}: {exc}") from exc
    return key
