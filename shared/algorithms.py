"""Algorithm tables: which JOSE algorithms go with which validation method and key.

Kept as data so that a reader (or a test) sees every allow-list in one place.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "CUSTOMER_JWE_ALGS",
    "CUSTOMER_JWE_ENCS",
    "EC_CURVE_FOR_ALG",
    "HMAC_MIN_SECRET_BYTES",
    "JWE_CEK_BYTES",
    "KW_KEY_BYTES",
    "METHOD_ALGORITHMS",
    "MIN_RSA_BITS",
    "REFUSED_HEADER_PARAMS",
    "TRANSIT_JWE_ALG",
    "TRANSIT_JWE_ENC",
    "TRANSIT_KEY_TYPES",
    "Method",
]

Method = Literal["public_key", "symmetric", "jwks"]

RSA_ALGS: Final = ("RS256", "RS384", "RS512")
EC_ALGS: Final = ("ES256", "ES384", "ES512")
HMAC_ALGS: Final = ("HS256", "HS384", "HS512")

#: Signature algorithms each validation method may pin (DESIGN §2). PS* are not offered by
#: the platform; HMAC never goes with a public key, so alg confusion is impossible by table.
METHOD_ALGORITHMS: Final[dict[str, tuple[str, ...]]] = {
    "public_key": RSA_ALGS + EC_ALGS,
    "symmetric": HMAC_ALGS,
    "jwks": RSA_ALGS + EC_ALGS,
}

#: ES* binds the curve (RFC 7518 §3.4): a P-256 key cannot sign ES384.
EC_CURVE_FOR_ALG: Final = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

MIN_RSA_BITS: Final = 2048

#: RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
HMAC_MIN_SECRET_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}

#: Our own JWEs: key management by Transit's RSA-OAEP (SHA-256) = JWE ``RSA-OAEP-256``.
TRANSIT_JWE_ALG: Final = "RSA-OAEP-256"
TRANSIT_JWE_ENC: Final = "A256GCM"
TRANSIT_KEY_TYPES: Final = ("rsa-2048", "rsa-3072", "rsa-4096")

#: Customer-made JWEs with a shared symmetric key (DESIGN §4): one pinned pair per account.
CUSTOMER_JWE_ALGS: Final = ("dir", "A128KW", "A192KW", "A256KW")
CUSTOMER_JWE_ENCS: Final = ("A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512")
#: Content-encryption key length in bytes per ``enc`` (the ``dir`` key must be exactly this).
JWE_CEK_BYTES: Final = {
    "A128GCM": 16,
    "A192GCM": 24,
    "A256GCM": 32,
    "A128CBC-HS256": 32,
    "A256CBC-HS512": 64,
}
#: Key-wrapping key length in bytes per ``alg``.
KW_KEY_BYTES: Final = {"A128KW": 16, "A192KW": 24, "A256KW": 32}

#: Header parameters we refuse outright (DESIGN §2/§7): key sources taken from the token
#: itself (RFC 8725 §3.10), compression (decompression bombs, RFC 8725 §3.6 / CVE-2024-28102
#: class) and unencoded payloads (RFC 7797).
REFUSED_HEADER_PARAMS: Final = frozenset({"jku", "x5u", "jwk", "x5c", "zip", "b64"})
