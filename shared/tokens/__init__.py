"""Reading and writing secure tokens: the compact form, signatures, claims, opening and
sealing JWEs, the whole verification of DESIGN §2, and the customers' JWKS endpoints (the
only HTTP this package makes). Never imports server, client, identity, ops or web code."""

from shared.tokens.cache import TtlCache
from shared.tokens.compact import CompactToken, Limits, parse_compact
from shared.tokens.jwks import JwksFetcher
from shared.tokens.sealing import Sealer, seal
from shared.tokens.verification import SignedJws, VerifiedToken, Verifier, verify, verify_async

__all__ = [
    "CompactToken",
    "JwksFetcher",
    "Limits",
    "Sealer",
    "SignedJws",
    "TtlCache",
    "VerifiedToken",
    "Verifier",
    "parse_compact",
    "seal",
    "verify",
    "verify_async",
]
