"""The hostile-input corpus (issue 6): malicious and malformed secure tokens, as data.

Each :class:`Case` names a JOSE attack class, cites where it comes from (a CVE of some
library, or the RFC 8725 / JOSE RFC section it breaks), builds its token for real test
accounts (:class:`~tests.hostile.forge.Context`), and states the exact answer of each surface:

- ``verifier``: the DESIGN §2 code that ``Verifier.verify`` raises;
- ``authz``: the Authorization API's answer to the jwt-bearer grant with the case as
  ``assertion`` (HTTP status, OAuth ``error``, our ``code``);
- ``crypto``: the Crypto API's answer to ``POST /v1/encrypt`` (HTTP status, problem ``code``).

Both APIs take only a JWS (DESIGN §5, §6): any JWE is ``TOKEN_INVALID_FORMAT`` there,
whatever the verifier makes of it (the sign/encrypt confusion of CVE-2022-3102 and
CVE-2023-51774 cannot happen).

:data:`REQUESTS` adds hostile HTTP requests that are not about the token (bearer tricks,
bodies, content types). ``python -m tests.hostile.corpus --markdown`` prints the tables of
``tests/hostile/README.md``; a test keeps the two in sync.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from joserfc.jwk import OctKey

from shared.wire import JWT_BEARER
from tests.hostile.forge import (
    CAMPAIGN,
    DROP,
    JWKS_EC_KID,
    JWKS_RSA_KID,
    ROLES,
    Context,
    customer_jwe,
    hmac_signed,
    jws,
    payload,
    rewrite_header,
    signature,
    signed,
    transit_jwe,
    unsigned,
)
from tests.support.tokens import KEYS, b64, pem, private_key, unb64

__all__ = [
    "ATTACKS",
    "CASES",
    "REQUESTS",
    "Case",
    "Expect",
    "HttpContext",
    "RawRequest",
    "RequestCase",
    "markdown",
]

EMPTY, FORMAT = "TOKEN_EMPTY", "TOKEN_INVALID_FORMAT"
DECRYPTION, SIGNATURE = "TOKEN_DECRYPTION_FAILED", "TOKEN_INVALID_SIGNATURE"
EXPIRED, CLAIMS = "TOKEN_EXPIRED", "TOKEN_INVALID_CLAIMS"

Build = Callable[[Context], str]


@dataclass(frozen=True)
class Expect:
    """The exact answer of each surface."""

    #: DESIGN §2 code raised by ``Verifier.verify``.
    verifier: str
    #: jwt-bearer grant: HTTP status, OAuth ``error``, our ``code`` (None: no code field).
    authz: tuple[int, str, str | None]
    #: ``POST /v1/encrypt``: HTTP status, problem ``code``.
    crypto: tuple[int, str]


@dataclass(frozen=True)
class Case:
    """One hostile token."""

    id: str
    attack: str
    reference: str
    #: The account role (:data:`tests.hostile.forge.ROLES`) the token is presented to.
    account: str
    build: Build
    expect: Expect
    #: Denial-of-service cases: every surface must answer within this many seconds.
    max_seconds: float | None = None


def _jws_expect(code: str) -> Expect:
    """A JWS: each surface reports the verifier's code."""
    return Expect(code, (400, "invalid_grant", code), (422, code))


def _jwe_expect(code: str) -> Expect:
    """A JWE: the verifier opens it (``code``); both APIs refuse any JWE as a format error."""
    return Expect(code, (400, "invalid_grant", FORMAT), (422, FORMAT))


#: Attack class -> what it is about (README).
ATTACKS: Final[dict[str, str]] = {
    "empty": "nothing where a token is expected",
    "alg-none": "unsigned tokens and broken `alg` values",
    "alg-confusion": "HMAC keyed with the account's public key; other algorithm families",
    "header-key": "key material or key URLs taken from the header (`jwk`, `jku`, `x5u`, `x5c`)",
    "kid": "`kid` injection: traversal, SQL, wrong account, unknown version, odd types",
    "crit": "critical header parameters we do not understand",
    "b64": "unencoded payloads (RFC 7797)",
    "zip": "compressed JWEs: decompression bombs",
    "pbes2": "password-based JWEs with a huge iteration count",
    "ecdh": "ECDH-ES with an ephemeral key off the curve",
    "rsa1_5": "RSAES-PKCS1-v1_5 (Bleichenbacher) and other unpinned key transports",
    "ecdsa": "zero ('psychic'), truncated and mis-encoded ECDSA signatures",
    "gcm-tag": "AES-GCM tags truncated or flipped",
    "duplicate-keys": "duplicate JSON member names in headers and payloads",
    "base64url": "non-canonical base64url and broken compact separators",
    "nested-jwe": "a JWE inside a JWE",
    "sign-encrypt": "a JWE standing in for a signature (anyone can encrypt)",
    "oversize": "tokens, headers and nesting beyond the limits",
    "claim-types": "claims of the wrong JSON type or out of range",
}

# -- references -------------------------------------------------------------------------------

_EMPTY = "DESIGN §2 (TOKEN_EMPTY)"
_NONE = "RFC 8725 §3.1, §3.2; CVE-2018-1000531 (prime-jwt)"
_ALG = "RFC 7515 §4.1.1; RFC 8725 §3.1"
_CONFUSION = "RFC 8725 §3.1; CVE-2015-9235 (jsonwebtoken), CVE-2016-10555 (jwt-simple)"
_PKCS1 = "RFC 8725 §3.1; CVE-2017-11424 (PyJWT)"
_OPENSSH = "RFC 8725 §3.1; CVE-2024-33663 (python-jose), CVE-2022-29217 (PyJWT)"
_FAMILY = "RFC 8725 §3.1 (algorithms pinned per account)"
_JWK = "RFC 7515 §4.1.3; CVE-2018-0114 (node-jose)"
_JKU = "RFC 7515 §4.1.2; RFC 8725 §3.10 (SSRF)"
_X5U = "RFC 7515 §4.1.5; RFC 8725 §3.10 (SSRF)"
_X5C = "RFC 7515 §4.1.6; RFC 8725 §3.10"
_KID = "RFC 7515 §4.1.4; RFC 8725 §3.10"
_KID_NULL = "RFC 8725 §3.10; RFC 7518 §3.2 (HMAC key length)"
_JWE_KID = "RFC 7516 §4.1.6; RFC 8725 §3.10; DESIGN §4 (kid names account and version)"
_CRIT = "RFC 7515 §4.1.11"
_CRIT_JWE = "RFC 7516 §4.1.13"
_B64 = "RFC 7797 §3, §6"
_ZIP = "RFC 8725 §3.6; CVE-2024-28102 (jwcrypto), CVE-2024-33664 (python-jose)"
_P2C = "RFC 7518 §4.8.1.2; CVE-2023-52428 (Nimbus), CVE-2022-36083 (panva/jose)"
_ECDH = "RFC 8725 §2.5, §3.4; CVE-2017-16007 (node-jose), CVE-2016-9121 (go-jose)"
_RSA1_5 = "RFC 8725 §3.2; RFC 7518 §4.2 (Bleichenbacher)"
_PSYCHIC = "CVE-2022-21449 (Java 'psychic signatures'); RFC 8725 §3.3"
_TRUNCATED = "RFC 7518 §3.4 (R || S, fixed length); CVE-2020-28042 (ServiceStack)"
_GCM = "RFC 7518 §5.3 (128-bit tag); RFC 8725 §3.3"
_DUP_HEADER = "RFC 7515 §4 (unique names); RFC 8259 §4"
_DUP_CLAIMS = "RFC 7519 §4 (unique names); RFC 8259 §4"
_BASE64 = "RFC 7515 §2, App. C; RFC 4648 §3.5"
_COMPACT = "RFC 7515 §7.1; RFC 7516 §7.1"
_NESTED = "DESIGN §7 (no JWE in a JWE); RFC 7519 §5.2"
_SIGN_ENCRYPT = "RFC 8725 §2.3; CVE-2023-51774 (json-jwt), CVE-2022-3102 (jwcrypto)"
_SIZE = "DESIGN §2, §7 (size limits)"
_NESTING = "DESIGN §7; CVE-2025-53864 (Nimbus, deeply nested JSON)"
_NUMERIC_DATE = "RFC 7519 §2 (NumericDate), §4.1.4-4.1.6; DESIGN §2"
_SUB = "RFC 7519 §4.1.2; DESIGN §2"
_CAMPAIGN = "DESIGN §2 (campaignId: string or number)"
_ORDER = "DESIGN §2 (check order: expiry first)"

# -- small forging tools ----------------------------------------------------------------------

#: ECDSA group orders (public curve constants, SEC 2 §2.4.2).
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_EVIL = "https://evil.example"
_PASSWORD = b"correct horse battery staple"
#: 10 MB of zeros deflate to about 10 KB: a bomb that fits in the 16 KiB token limit.
_BOMB = bytes(10_000_000)


def _object(members: list[tuple[str, str]]) -> str:
    """JSON object text from (name, raw JSON value) pairs; duplicates are kept."""
    return "{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in members) + "}"


def _claims(**raw: Any) -> list[tuple[str, str]]:
    """Valid claims as (name, JSON text) pairs, some replaced by raw JSON text (or DROP)."""
    members = {name: json.dumps(value) for name, value in payload().items()}
    for name, value in raw.items():
        if value is DROP:
            members.pop(name, None)
        else:
            members[name] = value
    return list(members.items())


def _signed_text(c: Context, role: str, body: str) -> str:
    """A token for ``role`` signed with its real key, over claims given as JSON text."""
    header: dict[str, Any] = {"alg": _role_alg(role), "typ": "JWT"}
    if role == "jwks":
        header["kid"] = JWKS_EC_KID
    key: Any = c.hmac_secret if role == "hmac" else _role_stem(role)
    return signed(header, body, header["alg"], key)


def _role_alg(role: str) -> str:
    return ROLES[role][1][0]


def _role_stem(role: str) -> str:
    return ROLES[role][2] or "ec-p256"


def _parts(token: str) -> list[str]:
    return token.split(".")


def _join(parts: list[str]) -> str:
    return ".".join(parts)


def _with_part(token: str, index: int, value: str) -> str:
    parts = _parts(token)
    parts[index] = value
    return _join(parts)


def _cut(token: str, index: int, keep: int) -> str:
    return _with_part(token, index, b64(unb64(_parts(token)[index])[:keep]))


def _flip(token: str, index: int, byte: int, mask: int = 0x01) -> str:
    raw = bytearray(unb64(_parts(token)[index]))
    raw[byte] ^= mask
    return _with_part(token, index, b64(bytes(raw)))


def _signature_bytes(token: str) -> bytes:
    return unb64(_parts(token)[2])


def _with_signature(token: str, value: bytes) -> str:
    return _with_part(token, 2, b64(value))


def _public_bytes(stem: str, encoding: str) -> bytes:
    key = serialization.load_pem_public_key(pem(stem).encode())
    if encoding == "pkcs1":
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    if encoding == "der":
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def _x5c(stem: str) -> list[str]:
    """A self-signed certificate chain (standard base64 DER) for ``stem``'s key."""
    key = serialization.load_pem_private_key((KEYS / f"{stem}-private.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.example")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]


def _header_of_size(size: int, **base: Any) -> dict[str, Any]:
    """An ES256 header whose compact JSON is exactly ``size`` bytes (padded through ``kid``)."""
    header = {"alg": "ES256", "typ": "JWT", "kid": "", **base}
    header["kid"] = "k" * (size - len(json.dumps(header, separators=(",", ":"))))
    assert len(json.dumps(header, separators=(",", ":"))) == size
    return header


def _respell(segment: str) -> str:
    """The same bytes spelt differently: a flipped unused low bit in the last character."""
    assert len(segment) % 4 in (2, 3), "a segment without unused bits cannot be respelt"
    return segment[:-1] + _B64URL[_B64URL.index(segment[-1]) ^ 1]


def _uneven_header() -> str:
    """An ES256 header whose base64url length is not a multiple of 4 (it has unused bits)."""
    kid = "x"
    while len(json.dumps({"alg": "ES256", "typ": "JWT", "kid": kid})) % 3 == 0:
        kid += "x"
    return json.dumps({"alg": "ES256", "typ": "JWT", "kid": kid})


def _resigned(header_segment: str, payload_segment: str, role: str = "ec") -> str:
    """A token over segments spelt exactly as given, signed by ``role``'s real key."""
    signing_input = f"{header_segment}.{payload_segment}"
    sig = signature(signing_input, _role_alg(role), _role_stem(role))
    return f"{signing_input}.{b64(sig)}"


def _std_alphabet_payload() -> str:
    """A payload segment spelt with base64's '+/' instead of base64url's '-_'."""
    for pad in range(64):
        segment = b64(json.dumps(payload(custom={"note": "?>" * (pad + 1)})))
        if "-" in segment or "_" in segment:
            return segment.replace("-", "+").replace("_", "/")
    raise AssertionError("no payload needing '-' or '_' was found")  # pragma: no cover


def _ecdh_jwe(c: Context, alg: str = "ECDH-ES", **epk_changes: Any) -> str:
    """A real ECDH-ES JWE to an EC P-256 key, then its ``epk`` moved as the attacker wants."""
    enc = "A256GCM"
    token = transit_jwe(
        c, "ec", jws(c, "ec"), algorithms=(alg, enc), key=private_key("ec-p256"),
        alg=alg, enc=enc, kid=DROP, cty=DROP,
    )  # fmt: skip
    epk = json.loads(unb64(_parts(token)[0]))["epk"]
    return rewrite_header(token, epk={**epk, **epk_changes})


def _off_curve(c: Context) -> dict[str, str]:
    """``epk`` coordinates of a real P-256 point with y moved off the curve."""
    token = transit_jwe(
        c, "ec", "x", algorithms=("ECDH-ES", "A256GCM"), key=private_key("ec-p256"),
        alg="ECDH-ES", enc="A256GCM", kid=DROP, cty=DROP,
    )  # fmt: skip
    epk = json.loads(unb64(_parts(token)[0]))["epk"]
    y = (int.from_bytes(unb64(epk["y"]), "big") + 1) % _P256_P
    return {"x": epk["x"], "y": b64(y.to_bytes(32, "big"))}


def _pbes2_jwe(c: Context, role: str, alg: str, p2c: object) -> str:
    """A real PBES2 JWE (p2c 1000), then its ``p2c`` raised: deriving it would take hours."""
    enc = "A128GCM" if alg.endswith("A128KW") else "A256GCM"
    token = transit_jwe(
        c, role, jws(c, role), algorithms=(alg, enc), key=OctKey.import_key(_PASSWORD),
        alg=alg, enc=enc, p2c=1000,
    )  # fmt: skip
    return rewrite_header(token, p2c=p2c)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _over_size(c: Context, limit: int = 16_384) -> str:
    """A correctly signed JWS a few bytes over the token size limit."""
    pad = limit * 3 // 4 - 200
    while len(token := jws(c, "ec", payload(custom={"pad": "x" * pad}))) <= limit:
        pad += 1
    return token


# -- the corpus -------------------------------------------------------------------------------


def _empty() -> list[Case]:
    return [
        Case("empty-string", "empty", _EMPTY, "ec", lambda c: "",
             Expect(EMPTY, (400, "invalid_request", EMPTY), (422, EMPTY))),
        Case("empty-whitespace", "empty", _EMPTY, "ec", lambda c: " \t\r\n ",
             _jws_expect(EMPTY)),
    ]  # fmt: skip


def _alg_none() -> list[Case]:
    def none(alg: str, sig: str = "", **header: Any) -> Build:
        return lambda c: unsigned({"alg": alg, "typ": "JWT", **header}, payload(), sig)

    def keeps_signature(c: Context) -> str:
        return _with_part(jws(c, "ec"), 0, b64({"alg": "none", "typ": "JWT"}))

    def header(value: dict[str, Any]) -> Build:
        return lambda c: signed(value, payload(), "ES256", "ec-p256")

    cases = [
        ("none-lowercase", "ec", none("none"), SIGNATURE),
        ("none-capitalised", "ec", none("None"), SIGNATURE),
        ("none-uppercase", "rsa", none("NONE"), SIGNATURE),
        ("none-mixed-case-hmac", "hmac", none("nOnE"), SIGNATURE),
        ("none-junk-signature", "ec", none("none", sig="AAAA"), SIGNATURE),
        ("none-keeps-real-signature", "ec", keeps_signature, SIGNATURE),
        ("none-jwks-known-kid", "jwks", none("none", kid=JWKS_EC_KID), SIGNATURE),
    ]
    result = [Case(i, "alg-none", _NONE, r, b, _jws_expect(code)) for i, r, b, code in cases]
    odd = [
        ("alg-empty-string", header({"alg": "", "typ": "JWT"}), FORMAT),
        ("alg-null", header({"alg": None, "typ": "JWT"}), FORMAT),
        ("alg-missing", header({"typ": "JWT"}), FORMAT),
        ("alg-array", header({"alg": ["ES256"], "typ": "JWT"}), FORMAT),
        ("alg-lowercase-es256", header({"alg": "es256", "typ": "JWT"}), SIGNATURE),
        ("alg-leading-space", header({"alg": " ES256", "typ": "JWT"}), SIGNATURE),
    ]
    return result + [Case(i, "alg-none", _ALG, "ec", b, _jws_expect(code)) for i, b, code in odd]


def _alg_confusion() -> list[Case]:
    def hs(secret: Callable[[Context], bytes], alg: str = "HS256", kid: str | None = None) -> Build:
        extra = {"kid": kid} if kid else {}
        return lambda c: hmac_signed({"alg": alg, "typ": "JWT", **extra}, payload(), secret(c), alg)

    def jwk_json(c: Context) -> bytes:
        return json.dumps({**private_key("ec-p256").as_dict(private=False), "kid": "k1"}).encode()

    def other(alg: str, key: str, kid: str | None = None) -> Build:
        extra = {"kid": kid} if kid else {}
        return lambda c: signed({"alg": alg, "typ": "JWT", **extra}, payload(), alg, key)

    rsa_pem = pem("rsa-2048").encode()
    ec_pem = pem("ec-p256").encode()
    cases = [
        ("hs256-rsa-public-pem", "rsa", hs(lambda c: rsa_pem), _CONFUSION),
        ("hs384-rsa-public-pem", "rsa", hs(lambda c: rsa_pem, "HS384"), _CONFUSION),
        ("hs512-rsa-public-pem", "rsa", hs(lambda c: rsa_pem, "HS512"), _CONFUSION),
        ("hs256-rsa-pem-stripped", "rsa", hs(lambda c: rsa_pem.strip()), _CONFUSION),
        ("hs256-rsa-pkcs1-pem", "rsa", hs(lambda c: _public_bytes("rsa-2048", "pkcs1")), _PKCS1),
        ("hs256-rsa-der", "rsa", hs(lambda c: _public_bytes("rsa-2048", "der")), _CONFUSION),
        ("hs256-ec-public-pem", "ec", hs(lambda c: ec_pem), _CONFUSION),
        ("hs256-ec-openssh", "ec", hs(lambda c: _public_bytes("ec-p256", "ssh")), _OPENSSH),
        ("hs256-jwks-jwk-json", "jwks", hs(jwk_json, kid=JWKS_EC_KID), _CONFUSION),
        ("rs256-on-ec-account", "ec", other("RS256", "rsa-2048-other"), _FAMILY),
        ("es256-on-hmac-account", "hmac", other("ES256", "ec-p256-other"), _FAMILY),
        ("ps256-real-key-on-rs256-account", "rsa", other("PS256", "rsa-2048"), _FAMILY),
        ("es384-on-es256-account", "ec", other("ES384", "ec-p384"), _FAMILY),
        ("rs256-jwks-ec-kid", "jwks", other("RS256", "rsa-2048-other", JWKS_EC_KID), _FAMILY),
    ]
    return [Case(i, "alg-confusion", ref, r, b, _jws_expect(SIGNATURE)) for i, r, b, ref in cases]


def _header_key() -> list[Case]:
    sources: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
        "jwk": (lambda stem: {"jwk": private_key(stem).as_dict(private=False)}, _JWK),
        "jku": (lambda stem: {"jku": f"{_EVIL}/jwks.json"}, _JKU),
        "x5u": (lambda stem: {"x5u": f"{_EVIL}/cert.pem"}, _X5U),
        "x5c": (lambda stem: {"x5c": _x5c(stem)}, _X5C),
    }
    cases: list[Case] = []
    for name, (header, ref) in sources.items():
        for who, stem in (("own-key", "ec-p256"), ("attacker-key", "ec-p256-other")):

            def build(c: Context, header: Any = header, stem: str = stem) -> str:
                return signed(
                    {"alg": "ES256", "typ": "JWT", **header(stem)}, payload(), "ES256", stem
                )

            cases.append(Case(f"{name}-{who}", "header-key", ref, "ec", build, _jws_expect(FORMAT)))

    def own_jwks_url(c: Context) -> str:
        return jws(c, "jwks", jku=c.jwks_url)

    def jwk_in_jwe(c: Context) -> str:
        jwk = private_key("ec-p256-other").as_dict(private=False)
        return rewrite_header(c.seal("ec", jws(c, "ec")), jwk=jwk)

    def jku_inside(c: Context) -> str:
        inner = signed(
            {"alg": "ES256", "typ": "JWT", "jku": f"{_EVIL}/j"}, payload(), "ES256", "ec-p256"
        )
        return transit_jwe(c, "ec", inner)

    return [
        *cases,
        Case("jku-account-own-jwks-url", "header-key", _JKU, "jwks", own_jwks_url,
             _jws_expect(FORMAT)),
        Case("jwk-in-jwe-header", "header-key", _JWK, "ec", jwk_in_jwe, _jwe_expect(FORMAT)),
        Case("jku-in-jws-inside-jwe", "header-key", _JKU, "ec", jku_inside, _jwe_expect(FORMAT)),
    ]  # fmt: skip


def _kid() -> list[Case]:
    def jwks_kid(kid: Any, stem: str = "ec-p256", alg: str = "ES256") -> Build:
        return lambda c: signed({"alg": alg, "typ": "JWT", "kid": kid}, payload(), alg, stem)

    def dev_null(c: Context) -> str:
        header = {"alg": "HS256", "typ": "JWT", "kid": "../../../../../../dev/null"}
        return hmac_signed(header, payload(), b"")

    def jwe_kid(kid: Callable[[str], Any]) -> Build:
        return lambda c: transit_jwe(c, "ec", jws(c, "ec"), kid=kid(c.ids["ec"]))

    def other_account(c: Context) -> str:
        return c.seal("other", jws(c, "ec"))

    def kid_number(c: Context) -> str:
        return rewrite_header(c.seal("ec", jws(c, "ec")), kid=1)

    jws_cases = [
        ("kid-path-traversal", jwks_kid("../../../../etc/passwd"), SIGNATURE),
        ("kid-sql-injection", jwks_kid("k1' UNION SELECT 'secret' --"), SIGNATURE),
        ("kid-empty", jwks_kid(""), SIGNATURE),
        ("kid-very-long", jwks_kid("k" * 1800), SIGNATURE),
        ("kid-nul-byte", jwks_kid("k1\u0000"), SIGNATURE),
        ("kid-number", jwks_kid(1), FORMAT),
        ("kid-null", jwks_kid(None), FORMAT),
        ("kid-nosql-object", jwks_kid({"$ne": None}), FORMAT),
        ("kid-of-rsa-key-for-es256", jwks_kid(JWKS_RSA_KID), SIGNATURE),
        ("kid-known-attacker-signs", jwks_kid(JWKS_EC_KID, "ec-p256-other"), SIGNATURE),
    ]
    jwe_cases = [
        ("jwe-kid-path-traversal", jwe_kid(lambda a: f"../{a}/1"), DECRYPTION),
        ("jwe-kid-sql-injection", jwe_kid(lambda a: f"{a}/1' OR '1'='1"), DECRYPTION),
        ("jwe-kid-unknown-version", jwe_kid(lambda a: f"{a}/99"), DECRYPTION),
        ("jwe-kid-empty", jwe_kid(lambda a: ""), DECRYPTION),
        ("jwe-kid-huge-version", jwe_kid(lambda a: f"{a}/{'9' * 1000}"), DECRYPTION),
        ("jwe-kid-trailing-newline", jwe_kid(lambda a: f"{a}/1\n"), DECRYPTION),
        ("jwe-kid-other-account", other_account, DECRYPTION),
        ("jwe-kid-number", kid_number, FORMAT),
    ]
    return [
        *(Case(i, "kid", _KID, "jwks", b, _jws_expect(code)) for i, b, code in jws_cases),
        Case("kid-dev-null-empty-hmac", "kid", _KID_NULL, "hmac", dev_null,
             _jws_expect(SIGNATURE)),
        *(Case(i, "kid", _JWE_KID, "ec", b, _jwe_expect(code)) for i, b, code in jwe_cases),
    ]  # fmt: skip


def _crit() -> list[Case]:
    def crit(**header: Any) -> Build:
        return lambda c: signed(
            {"alg": "ES256", "typ": "JWT", **header}, payload(), "ES256", "ec-p256"
        )

    def in_jwe(c: Context) -> str:
        return rewrite_header(c.seal("ec", jws(c, "ec")), crit=["x-ext"], **{"x-ext": 1})

    uri = "https://example.com/ext"
    cases = [
        ("crit-unknown-extension", crit(crit=[uri], **{uri: True})),
        ("crit-registered-claim-name", crit(crit=["exp"], exp=int(time.time()) + 60)),
        ("crit-empty-list", crit(crit=[])),
        ("crit-not-a-list", crit(crit="exp")),
        ("crit-names-absent-parameter", crit(crit=["x-missing"])),
    ]
    return [
        *(Case(i, "crit", _CRIT, "ec", b, _jws_expect(FORMAT)) for i, b in cases),
        Case("crit-in-jwe-header", "crit", _CRIT_JWE, "ec", in_jwe, _jwe_expect(FORMAT)),
    ]


def _b64() -> list[Case]:
    def unencoded(c: Context) -> str:
        header = b64({"alg": "ES256", "b64": False, "crit": ["b64"]})
        body = json.dumps(payload(), separators=(",", ":"))
        return f"{header}.{body}.{b64(signature(f'{header}.{body}', 'ES256', 'ec-p256'))}"

    def header(value: dict[str, Any]) -> Build:
        return lambda c: signed({"alg": "ES256", **value}, payload(), "ES256", "ec-p256")

    return [
        Case("b64-false-unencoded-payload", "b64", _B64, "ec", unencoded, _jws_expect(FORMAT)),
        Case("b64-false-without-crit", "b64", _B64, "ec", header({"b64": False}),
             _jws_expect(FORMAT)),
        Case("b64-true-in-crit", "b64", _B64, "ec", header({"b64": True, "crit": ["b64"]}),
             _jws_expect(FORMAT)),
    ]  # fmt: skip


def _zip() -> list[Case]:
    def bomb_transit(c: Context) -> str:
        return transit_jwe(c, "ec", _BOMB, algorithms=("RSA-OAEP-256", "A256GCM", "DEF"), zip="DEF")

    def bomb_customer(c: Context) -> str:
        return customer_jwe(c, _BOMB, zip="DEF")

    def in_jws(c: Context) -> str:
        return signed({"alg": "ES256", "zip": "DEF"}, zlib.compress(b"{}"), "ES256", "ec-p256")

    def unknown(c: Context) -> str:
        return rewrite_header(c.seal("ec", jws(c, "ec")), zip="GZIP")

    def inner(c: Context) -> str:
        return transit_jwe(c, "ec", signed({"alg": "ES256", "zip": "DEF"}, payload(), "ES256",
                                           "ec-p256"))  # fmt: skip

    return [
        Case("zip-bomb-transit-jwe", "zip", _ZIP, "ec", bomb_transit, _jwe_expect(FORMAT), 1.0),
        Case("zip-bomb-customer-jwe", "zip", _ZIP, "customer", bomb_customer,
             _jwe_expect(FORMAT), 1.0),
        Case("zip-in-jws-header", "zip", _ZIP, "ec", in_jws, _jws_expect(FORMAT)),
        Case("zip-unknown-algorithm", "zip", _ZIP, "ec", unknown, _jwe_expect(FORMAT)),
        Case("zip-in-jws-inside-jwe", "zip", _ZIP, "ec", inner, _jwe_expect(FORMAT)),
    ]  # fmt: skip


def _pbes2() -> list[Case]:
    def p2c(role: str, alg: str, value: object) -> Build:
        return lambda c: _pbes2_jwe(c, role, alg, value)

    cases = [
        ("p2c-billion", "ec", p2c("ec", "PBES2-HS256+A128KW", 10**9)),
        ("p2c-billion-customer-account", "customer", p2c("customer", "PBES2-HS512+A256KW", 10**9)),
        ("p2c-int64-max", "ec", p2c("ec", "PBES2-HS256+A128KW", 2**63 - 1)),
        ("p2c-negative", "ec", p2c("ec", "PBES2-HS256+A128KW", -1)),
        ("p2c-string", "ec", p2c("ec", "PBES2-HS256+A128KW", "1000000000")),
    ]
    return [Case(i, "pbes2", _P2C, r, b, _jwe_expect(DECRYPTION), 1.0) for i, r, b in cases]


def _ecdh() -> list[Case]:
    def off_curve(alg: str) -> Build:
        return lambda c: _ecdh_jwe(c, alg, **_off_curve(c))

    def zero(c: Context) -> str:
        return _ecdh_jwe(c, x=b64(bytes(32)), y=b64(bytes(32)))

    def other_curve(c: Context) -> str:
        return _ecdh_jwe(c, **private_key("ec-p384").as_dict(private=False))

    cases = [
        ("ecdh-es-off-curve-epk", "ec", off_curve("ECDH-ES")),
        ("ecdh-es-zero-point-epk", "ec", zero),
        ("ecdh-es-p384-epk-for-p256", "ec", other_curve),
        ("ecdh-es-a256kw-off-curve-customer", "customer", off_curve("ECDH-ES+A256KW")),
    ]
    return [Case(i, "ecdh", _ECDH, r, b, _jwe_expect(DECRYPTION)) for i, r, b in cases]


def _rsa1_5() -> list[Case]:
    def jwe_for(role: str, alg: str, enc: str) -> Build:
        return lambda c: transit_jwe(c, role, jws(c, role), algorithms=(alg, enc), alg=alg, enc=enc)

    cases = [
        ("rsa1_5-transit-key", "ec", jwe_for("ec", "RSA1_5", "A256GCM"), _RSA1_5),
        ("rsa1_5-cbc-hs256", "ec", jwe_for("ec", "RSA1_5", "A128CBC-HS256"), _RSA1_5),
        ("rsa1_5-customer-account", "customer", jwe_for("customer", "RSA1_5", "A256GCM"), _RSA1_5),
        ("rsa-oaep-sha1-transit-key", "ec", jwe_for("ec", "RSA-OAEP", "A256GCM"), _FAMILY),
    ]
    return [Case(i, "rsa1_5", ref, r, b, _jwe_expect(DECRYPTION)) for i, r, b, ref in cases]


def _ecdsa() -> list[Case]:
    def changed(role: str, change: Callable[[bytes], bytes]) -> Build:
        def build(c: Context) -> str:
            token = jws(c, role)
            return _with_signature(token, change(_signature_bytes(token)))

        return build

    def der(sig: bytes) -> bytes:
        half = len(sig) // 2
        r, s = int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big")
        return encode_dss_signature(r, s)

    n = _P256_N.to_bytes(32, "big")
    cases: list[Case] = []
    for alg, role, size in (("ES256", "ec", 64), ("ES384", "ec384", 96), ("ES512", "ec521", 132)):
        name = alg.lower()
        cases += [
            Case(f"{name}-zero-signature", "ecdsa", _PSYCHIC, role,
                 changed(role, lambda s, size=size: bytes(size)), _jws_expect(SIGNATURE)),
            Case(f"{name}-truncated-one-byte", "ecdsa", _TRUNCATED, role,
                 changed(role, lambda s: s[:-1]), _jws_expect(SIGNATURE)),
            Case(f"{name}-truncated-half", "ecdsa", _TRUNCATED, role,
                 changed(role, lambda s: s[: len(s) // 2]), _jws_expect(SIGNATURE)),
            Case(f"{name}-empty-signature", "ecdsa", _TRUNCATED, role,
                 changed(role, lambda s: b""), _jws_expect(SIGNATURE)),
        ]  # fmt: skip
    return [
        *cases,
        Case("es256-r-and-s-equal-n", "ecdsa", _PSYCHIC, "ec", changed("ec", lambda s: n + n),
             _jws_expect(SIGNATURE)),
        Case("es256-der-encoded", "ecdsa", _TRUNCATED, "ec", changed("ec", der),
             _jws_expect(SIGNATURE)),
        Case("es256-trailing-zero-byte", "ecdsa", _TRUNCATED, "ec",
             changed("ec", lambda s: s + b"\x00"), _jws_expect(SIGNATURE)),
    ]  # fmt: skip


def _gcm() -> list[Case]:
    def transit(change: Callable[[str], str]) -> Build:
        return lambda c: change(c.seal("ec", jws(c, "ec")))

    def customer(change: Callable[[str], str]) -> Build:
        return lambda c: change(customer_jwe(c, jws(c, "customer")))

    cases: list[Case] = []
    for where, make, role in (("transit", transit, "ec"), ("customer", customer, "customer")):
        for keep in (0, 4, 8, 15):
            cases.append(
                Case(f"gcm-{where}-tag-{keep}-bytes", "gcm-tag", _GCM, role,
                     make(lambda t, keep=keep: _cut(t, 4, keep)), _jwe_expect(DECRYPTION))
            )  # fmt: skip
        cases.append(
            Case(f"gcm-{where}-tag-first-bit-flipped", "gcm-tag", _GCM, role,
                 make(lambda t: _flip(t, 4, 0, 0x80)), _jwe_expect(DECRYPTION))
        )  # fmt: skip
    return [
        *cases,
        Case("gcm-transit-tag-last-bit-flipped", "gcm-tag", _GCM, "ec",
             transit(lambda t: _flip(t, 4, 15)), _jwe_expect(DECRYPTION)),
        Case("gcm-transit-iv-truncated", "gcm-tag", _GCM, "ec", transit(lambda t: _cut(t, 2, 8)),
             _jwe_expect(DECRYPTION)),
    ]  # fmt: skip


def _duplicates() -> list[Case]:
    def header(text: str, role: str = "ec") -> Build:
        return lambda c: signed(text, _object(_claims()), _role_alg(role), _role_stem(role))

    def claims(first: list[tuple[str, str]], last: list[tuple[str, str]]) -> Build:
        return lambda c: _signed_text(c, "ec", _object([*first, *_claims(), *last]))

    def jwe_header(c: Context) -> str:
        token = c.seal("ec", jws(c, "ec"))
        text = unb64(_parts(token)[0]).decode()
        return _with_part(token, 0, b64(text[:-1] + ',"enc":"A128GCM"}'))

    def inner(c: Context) -> str:
        return transit_jwe(c, "ec", _signed_text(c, "ec", _object([*_claims(), ("sub", '"x"')])))

    past = str(int(time.time()) - 86_400)
    return [
        Case("dup-header-alg-none-last", "duplicate-keys", _DUP_HEADER, "ec",
             header('{"alg":"ES256","typ":"JWT","alg":"none"}'), _jws_expect(FORMAT)),
        Case("dup-header-alg-none-first", "duplicate-keys", _DUP_HEADER, "ec",
             header('{"alg":"none","typ":"JWT","alg":"ES256"}'), _jws_expect(FORMAT)),
        Case("dup-header-kid", "duplicate-keys", _DUP_HEADER, "jwks",
             header('{"alg":"ES256","kid":"evil","kid":"k1"}'), _jws_expect(FORMAT)),
        Case("dup-claim-sub", "duplicate-keys", _DUP_CLAIMS, "ec",
             claims([("sub", '"victim"')], []), _jws_expect(FORMAT)),
        Case("dup-claim-exp", "duplicate-keys", _DUP_CLAIMS, "ec",
             claims([], [("exp", past)]), _jws_expect(FORMAT)),
        Case("dup-claim-campaign", "duplicate-keys", _DUP_CLAIMS, "ec",
             claims([], [("campaignId", '"9999"')]), _jws_expect(FORMAT)),
        Case("dup-jwe-header-enc", "duplicate-keys", _DUP_HEADER, "ec", jwe_header,
             _jwe_expect(FORMAT)),
        Case("dup-claim-in-jws-inside-jwe", "duplicate-keys", _DUP_CLAIMS, "ec", inner,
             _jwe_expect(FORMAT)),
    ]  # fmt: skip


def _base64url() -> list[Case]:
    def padded_header(c: Context) -> str:
        segment = b64(_uneven_header())
        return _resigned(segment + "=" * (-len(segment) % 4), b64(payload()))

    def std_alphabet(c: Context) -> str:
        return _resigned(b64(_uneven_header()), _std_alphabet_payload())

    def header_bits(c: Context) -> str:
        return _resigned(_respell(b64(_uneven_header())), b64(payload()))

    def signature_bits(c: Context) -> str:
        token = jws(c, "ec")
        return _with_part(token, 2, _respell(_parts(token)[2]))

    def inserted(text: str) -> Build:
        def build(c: Context) -> str:
            header, body, sig = _parts(jws(c, "ec"))
            return _join([header, body[:20] + text + body[20:], sig])

        return build

    def separators(dot: str) -> Build:
        return lambda c: jws(c, "ec").replace(".", dot)

    def padded_iv(c: Context) -> str:
        token = c.seal("ec", jws(c, "ec"))
        return _with_part(token, 2, _parts(token)[2] + "==")

    cases = [
        ("b64url-padded-header", padded_header, _BASE64, "jws"),
        ("b64url-std-alphabet-payload", std_alphabet, _BASE64, "jws"),
        ("b64url-trailing-bits-header", header_bits, _BASE64, "jws"),
        ("b64url-trailing-bits-signature", signature_bits, _BASE64, "jws"),
        ("b64url-space-inside-segment", inserted(" "), _BASE64, "jws"),
        ("b64url-line-break-inside-segment", inserted("\n"), _BASE64, "jws"),
        ("b64url-padded-jwe-iv", padded_iv, _BASE64, "jwe"),
        ("compact-percent-encoded-dots", separators("%2E"), _COMPACT, "jws"),
        ("compact-unicode-dot-leader", separators("\u2024"), _COMPACT, "jws"),
    ]
    return [
        Case(i, "base64url", ref, "ec", b, (_jwe_expect if kind == "jwe" else _jws_expect)(FORMAT))
        for i, b, ref, kind in cases
    ]


def _nested() -> list[Case]:
    def transit_in_transit(c: Context) -> str:
        return transit_jwe(c, "ec", c.seal("ec", jws(c, "ec")))

    def customer_in_transit(c: Context) -> str:
        return transit_jwe(c, "ec", customer_jwe(c, jws(c, "ec")))

    def transit_in_customer(c: Context) -> str:
        return customer_jwe(c, c.seal("customer", jws(c, "customer")))

    def triple(c: Context) -> str:
        return transit_jwe(c, "ec", transit_jwe(c, "ec", c.seal("ec", jws(c, "ec"))))

    cases = [
        ("nested-transit-in-transit", "ec", transit_in_transit),
        ("nested-customer-in-transit", "ec", customer_in_transit),
        ("nested-transit-in-customer", "customer", transit_in_customer),
        ("nested-three-levels", "ec", triple),
    ]
    return [Case(i, "nested-jwe", _NESTED, r, b, _jwe_expect(FORMAT)) for i, r, b in cases]


def _sign_encrypt() -> list[Case]:
    def plain_claims(c: Context) -> str:
        return transit_jwe(c, "ec", json.dumps(payload()))

    def none_inside(c: Context) -> str:
        return c.seal("ec", unsigned({"alg": "none", "typ": "JWT"}, payload()))

    def forged_inside(c: Context) -> str:
        return c.seal("ec", signed({"alg": "ES256", "typ": "JWT"}, payload(), "ES256",
                                   "ec-p256-other"))  # fmt: skip

    def customer_plain(c: Context) -> str:
        return customer_jwe(c, json.dumps(payload()))

    def jwe_as_payload(c: Context) -> str:
        return signed({"alg": "ES256", "typ": "JWT", "cty": "JWT"}, c.seal("ec", jws(c, "ec")),
                      "ES256", "ec-p256")  # fmt: skip

    return [
        Case("jwe-of-unsigned-claims", "sign-encrypt", _SIGN_ENCRYPT, "ec", plain_claims,
             _jwe_expect(FORMAT)),
        Case("jwe-of-alg-none-jws", "sign-encrypt", _SIGN_ENCRYPT, "ec", none_inside,
             _jwe_expect(SIGNATURE)),
        Case("jwe-of-forged-jws", "sign-encrypt", _SIGN_ENCRYPT, "ec", forged_inside,
             _jwe_expect(SIGNATURE)),
        Case("customer-jwe-of-unsigned-claims", "sign-encrypt", _SIGN_ENCRYPT, "customer",
             customer_plain, _jwe_expect(FORMAT)),
        Case("jws-whose-payload-is-a-jwe", "sign-encrypt", _SIGN_ENCRYPT, "ec", jwe_as_payload,
             _jws_expect(FORMAT)),
    ]  # fmt: skip


def _oversize() -> list[Case]:
    def huge(c: Context) -> str:
        return jws(c, "ec", payload(custom={"pad": "x" * (1 << 20)}))

    def big_jwe(c: Context) -> str:
        return transit_jwe(c, "ec", jws(c, "ec", payload(custom={"pad": "x" * 11_000})))

    def header(size: int) -> Build:
        return lambda c: signed(_header_of_size(size), payload(), "ES256", "ec-p256")

    def deep(c: Context) -> str:
        return _signed_text(c, "ec", _object([*_claims(), ("custom", f'{{"a":{_deep(5000)}}}')]))

    def segments(c: Context) -> str:
        return ".".join([*_parts(jws(c, "ec")), *(["e30"] * 1000)])

    too_big = Expect(FORMAT, (413, "invalid_request", None), (413, "PAYLOAD_TOO_LARGE"))
    return [
        Case("oversize-token-just-over-16k", "oversize", _SIZE, "ec", _over_size,
             _jws_expect(FORMAT)),
        Case("oversize-token-1mib", "oversize", _SIZE, "ec", huge, too_big, 1.0),
        Case("oversize-jwe-over-16k", "oversize", _SIZE, "ec", big_jwe, _jwe_expect(FORMAT)),
        Case("oversize-header-2049-bytes", "oversize", _SIZE, "ec", header(2049),
             _jws_expect(FORMAT)),
        Case("oversize-header-2100-bytes", "oversize", _SIZE, "ec", header(2100),
             _jws_expect(FORMAT)),
        Case("oversize-header-10k", "oversize", _SIZE, "ec", header(10_000), _jws_expect(FORMAT)),
        Case("oversize-nesting-5000-deep", "oversize", _NESTING, "ec", deep, _jws_expect(FORMAT)),
        Case("oversize-1003-segments", "oversize", _COMPACT, "ec", segments, _jws_expect(FORMAT)),
    ]  # fmt: skip


def _claim_types() -> list[Case]:
    now = int(time.time())
    future = str(now + 86_400)
    past = str(now - 86_400)
    huge = "1" + "0" * 400
    bad: list[tuple[str, str, Any, str, str]] = [
        # (claim, variant, raw JSON value or DROP, code, reference)
        ("exp", "string", json.dumps(future), CLAIMS, _NUMERIC_DATE),
        ("exp", "bool", "true", CLAIMS, _NUMERIC_DATE),
        ("exp", "null", "null", CLAIMS, _NUMERIC_DATE),
        ("exp", "array", f"[{future}]", CLAIMS, _NUMERIC_DATE),
        ("exp", "object", f'{{"$date":{future}}}', CLAIMS, _NUMERIC_DATE),
        ("exp", "10e400-integer", huge, CLAIMS, _NUMERIC_DATE),
        ("exp", "1e400-float", "1e400", CLAIMS, _NUMERIC_DATE),
        ("exp", "minus-1e400", "-1e400", CLAIMS, _NUMERIC_DATE),
        ("exp", "nan-literal", "NaN", FORMAT, _NUMERIC_DATE),
        ("exp", "infinity-literal", "Infinity", FORMAT, _NUMERIC_DATE),
        ("iat", "string", json.dumps("now"), CLAIMS, _NUMERIC_DATE),
        ("iat", "bool", "false", CLAIMS, _NUMERIC_DATE),
        ("iat", "1e400-float", "1e400", CLAIMS, _NUMERIC_DATE),
        ("iat", "future", future, CLAIMS, _NUMERIC_DATE),
        ("nbf", "string", json.dumps("2020-01-01"), CLAIMS, _NUMERIC_DATE),
        ("nbf", "array", "[0]", CLAIMS, _NUMERIC_DATE),
        ("nbf", "null", "null", CLAIMS, _NUMERIC_DATE),
        ("nbf", "future", future, CLAIMS, _NUMERIC_DATE),
        ("campaignId", "object", '{"id":"1001"}', CLAIMS, _CAMPAIGN),
        ("campaignId", "bool", "true", CLAIMS, _CAMPAIGN),
        ("campaignId", "fraction", "1001.5", CLAIMS, _CAMPAIGN),
        ("campaignId", "list", f'["{CAMPAIGN}"]', CLAIMS, _CAMPAIGN),
        ("campaignId", "null", "null", CLAIMS, _CAMPAIGN),
        ("campaignId", "empty", '""', CLAIMS, _CAMPAIGN),
        ("campaignId", "blank", '"   "', CLAIMS, _CAMPAIGN),
        ("campaignId", "1e400-float", "1e400", CLAIMS, _CAMPAIGN),
        ("campaignId", "missing", DROP, CLAIMS, _CAMPAIGN),
        ("sub", "fraction", "42.5", CLAIMS, _SUB),
        ("sub", "object", '{"id":"participant-42"}', CLAIMS, _SUB),
        ("sub", "empty", '""', CLAIMS, _SUB),
        ("sub", "blank", '"  "', CLAIMS, _SUB),
        ("sub", "missing", DROP, CLAIMS, _SUB),
        ("sub", "null", "null", CLAIMS, _SUB),
        ("sub", "list", '["participant-42"]', CLAIMS, _SUB),
        ("sub", "bool", "true", CLAIMS, _SUB),
        ("sub", "minus-1e400", "-1e400", CLAIMS, _SUB),
    ]

    def build(**raw: Any) -> Build:
        return lambda c: _signed_text(c, "ec", _object(_claims(**raw)))

    cases = [
        Case(f"claim-{claim.lower()}-{variant}", "claim-types", ref, "ec",
             build(**{claim: value}), _jws_expect(code))
        for claim, variant, value, code, ref in bad
    ]  # fmt: skip
    return [
        *cases,
        Case("claim-expired-and-sub-missing", "claim-types", _ORDER, "ec",
             build(exp=past, sub=DROP), _jws_expect(EXPIRED)),
        Case("claim-expired-and-campaign-object", "claim-types", _ORDER, "ec",
             build(exp=past, campaignId='{"id":1}'), _jws_expect(EXPIRED)),
    ]  # fmt: skip


CASES: Final[tuple[Case, ...]] = (
    *_empty(),
    *_alg_none(),
    *_alg_confusion(),
    *_header_key(),
    *_kid(),
    *_crit(),
    *_b64(),
    *_zip(),
    *_pbes2(),
    *_ecdh(),
    *_rsa1_5(),
    *_ecdsa(),
    *_gcm(),
    *_duplicates(),
    *_base64url(),
    *_nested(),
    *_sign_encrypt(),
    *_oversize(),
    *_claim_types(),
)


# -- hostile requests (not tokens) ------------------------------------------------------------


@dataclass(frozen=True)
class HttpContext:
    """What hostile requests are made from: running APIs' keys and real credentials."""

    tokens: Context
    #: A valid secure token and a valid bearer, both for the ``ec`` account.
    token: str
    bearer: str
    #: The Authorization API's issuer, the Crypto API's audience, and its bearer signing key
    #: (public JWK, from its JWKS).
    issuer: str
    audience: str
    authz_jwk: Mapping[str, Any]
    #: Bearers really signed by the Authorization API's key that must still be refused:
    #: ``other-issuer``, ``other-audience``, ``expired``, ``no-scope``, ``unknown-account``,
    #: ``malformed-sub``.
    signed_bearers: Mapping[str, str]


@dataclass(frozen=True)
class RawRequest:
    """An HTTP request, byte for byte (headers may repeat)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class RequestCase:
    """One hostile request to one API, and its exact answer."""

    id: str
    surface: Literal["authz", "crypto"]
    attack: str
    reference: str
    build: Callable[[HttpContext], RawRequest]
    status: int
    #: Our ``code`` (problem ``code`` for the Crypto API, the extra field for the
    #: Authorization API; None: the body has none).
    code: str | None
    #: The OAuth ``error`` (Authorization API only).
    error: str | None = None


_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"


def _bearer_claims(h: HttpContext, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    account = h.tokens.ids["ec"]
    claims = {
        "iss": h.issuer, "sub": account, "client_id": account, "aud": h.audience,
        "scope": "token:encrypt", "iat": now, "exp": now + 300, "jti": "hostile",
    }  # fmt: skip
    claims.update(changes)
    return claims


def _forged_bearer(h: HttpContext, how: str) -> str:
    kid = str(h.authz_jwk["kid"])
    claims = _bearer_claims(h)
    if how == "alg-none":
        return unsigned({"alg": "none", "typ": "at+jwt", "kid": kid}, claims)
    if how == "attacker-key":
        return signed({"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims, "ES256",
                      "ec-p256-other")  # fmt: skip
    public = {k: v for k, v in h.authz_jwk.items() if k in ("kty", "crv", "x", "y")}
    pem_text = serialization.load_der_public_key(base64.b64decode(_spki_der(public))).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secret = json.dumps(dict(h.authz_jwk)).encode() if how == "hs256-jwk" else pem_text
    return hmac_signed({"alg": "HS256", "typ": "at+jwt", "kid": kid}, claims, secret)


def _spki_der(jwk: Mapping[str, Any]) -> str:
    """Standard base64 SubjectPublicKeyInfo DER of a P-256 public JWK."""
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64(jwk["x"]), "big"), int.from_bytes(unb64(jwk["y"]), "big"),
        ec.SECP256R1(),
    )  # fmt: skip
    der = numbers.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _encrypt(
    h: HttpContext,
    *,
    authorization: tuple[str, ...] | None = None,
    body: bytes | None = None,
    content_type: str | None = _JSON,
    path: str = "/v1/encrypt",
    method: str = "POST",
) -> RawRequest:
    """A request to the Crypto API, valid unless told otherwise."""
    auths = authorization if authorization is not None else (f"Bearer {h.bearer}",)
    headers = [("Authorization", value) for value in auths]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if body is None:
        body = json.dumps({"token": h.token}).encode()
    return RawRequest(method, path, tuple(headers), body)


def _with_bearer(token: Callable[[HttpContext], str]) -> Callable[[HttpContext], RawRequest]:
    return lambda h: _encrypt(h, authorization=(f"Bearer {token(h)}",))


def _token_request(
    h: HttpContext,
    pairs: list[tuple[str, str]] | None = None,
    *,
    body: bytes | None = None,
    content_type: str | None = _FORM,
    query: str = "",
) -> RawRequest:
    """A request to the token endpoint: by default a valid jwt-bearer grant for ``ec``."""
    if pairs is None:
        pairs = [("grant_type", JWT_BEARER), ("client_id", h.tokens.ids["ec"]),
                 ("assertion", h.token)]  # fmt: skip
    headers = (("Content-Type", content_type),) if content_type else ()
    data = body if body is not None else urlencode(pairs).encode()
    return RawRequest("POST", f"/oauth/token{query}", headers, data)


def _grant(h: HttpContext, **changes: str) -> list[tuple[str, str]]:
    params = {"grant_type": JWT_BEARER, "client_id": h.tokens.ids["ec"], "assertion": h.token}
    params.update(changes)
    return list(params.items())


_RFC6750 = "RFC 6750 §2.1, §3.1"
_RFC9068 = "RFC 9068 §4; RFC 8725 §3.1"
_CROSS_JWT = "RFC 8725 §3.11, §3.12 (explicit typing)"
_BODY = "DESIGN §6; RFC 9110 §15.5.14"
_MEDIA = "RFC 9110 §8.3; RFC 6749 §3.2"
_UTF8 = "RFC 8259 §8.1; RFC 8725 §3.7"
_DUP_JSON = "RFC 8259 §4 (names SHOULD be unique); RFC 7515 §4 stance"
_RFC6749 = "RFC 6749 §3.2 (parameters sent once), §5.2"
_RFC7523 = "RFC 7523 §3; RFC 6749 §5.2"

REQUESTS: Final[tuple[RequestCase, ...]] = (
    # -- Crypto API: the bearer ------------------------------------------------------------
    RequestCase("crypto-no-authorization", "crypto", "bearer", _RFC6750,
                lambda h: _encrypt(h, authorization=()), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-scheme-only", "crypto", "bearer", _RFC6750,
                lambda h: _encrypt(h, authorization=("Bearer",)), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-empty-quotes", "crypto", "bearer", _RFC6750,
                lambda h: _encrypt(h, authorization=('Bearer ""',)), 401, "BEARER_INVALID"),
    RequestCase("crypto-basic-scheme", "crypto", "bearer", _RFC6750,
                lambda h: _encrypt(h, authorization=("Basic dXNlcjpwYXNz",)), 401,
                "BEARER_INVALID"),
    RequestCase("crypto-bearer-trailing-junk", "crypto", "bearer", _RFC6750,
                lambda h: _encrypt(h, authorization=(f"Bearer {h.bearer} junk",)), 401,
                "BEARER_INVALID"),
    RequestCase("crypto-two-authorization-valid-first", "crypto", "bearer",
                _RFC6750 + "; RFC 9110 §5.3",
                lambda h: _encrypt(h, authorization=(f"Bearer {h.bearer}", "Bearer junk")),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-two-authorization-valid-last", "crypto", "bearer",
                _RFC6750 + "; RFC 9110 §5.3",
                lambda h: _encrypt(h, authorization=("Bearer junk", f"Bearer {h.bearer}")),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-bearer-in-query", "crypto", "bearer", "RFC 6750 §2.3, §5.3",
                lambda h: _encrypt(
                    h, authorization=(), path=f"/v1/encrypt?access_token={h.bearer}"
                ),
                401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-alg-none", "crypto", "bearer", _NONE,
                _with_bearer(lambda h: _forged_bearer(h, "alg-none")), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-hs256-authz-jwk-as-secret", "crypto", "bearer", _CONFUSION,
                _with_bearer(lambda h: _forged_bearer(h, "hs256-jwk")), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-hs256-authz-pem-as-secret", "crypto", "bearer", _CONFUSION,
                _with_bearer(lambda h: _forged_bearer(h, "hs256-pem")), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-attacker-key-real-kid", "crypto", "bearer", _RFC9068,
                _with_bearer(lambda h: _forged_bearer(h, "attacker-key")), 401,
                "BEARER_INVALID"),
    RequestCase("crypto-bearer-other-issuer", "crypto", "bearer", "RFC 9068 §4; RFC 8725 §3.8",
                _with_bearer(lambda h: h.signed_bearers["other-issuer"]), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-other-audience", "crypto", "bearer",
                "RFC 9068 §4; RFC 8725 §3.9",
                _with_bearer(lambda h: h.signed_bearers["other-audience"]), 401,
                "BEARER_INVALID"),
    RequestCase("crypto-bearer-expired", "crypto", "bearer", "RFC 9068 §4",
                _with_bearer(lambda h: h.signed_bearers["expired"]), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-malformed-sub", "crypto", "bearer", "RFC 9068 §4; RFC 8725 §3.10",
                _with_bearer(lambda h: h.signed_bearers["malformed-sub"]), 401,
                "BEARER_INVALID"),
    RequestCase("crypto-bearer-without-scope", "crypto", "bearer", "RFC 6750 §3.1; RFC 9068 §4",
                _with_bearer(lambda h: h.signed_bearers["no-scope"]), 403, "INSUFFICIENT_SCOPE"),
    RequestCase("crypto-bearer-unknown-account", "crypto", "bearer", "DESIGN §6",
                _with_bearer(lambda h: h.signed_bearers["unknown-account"]), 403,
                "ACCOUNT_DISABLED"),
    RequestCase("crypto-bearer-is-a-secure-token", "crypto", "bearer", _CROSS_JWT,
                _with_bearer(lambda h: h.token), 401, "BEARER_INVALID"),
    RequestCase("crypto-bearer-is-a-jwe", "crypto", "bearer", _CROSS_JWT,
                _with_bearer(lambda h: h.tokens.seal("ec", h.token)), 401, "BEARER_INVALID"),
    # -- Crypto API: the body --------------------------------------------------------------
    RequestCase("crypto-body-over-32k", "crypto", "body", _BODY,
                lambda h: _encrypt(h, body=json.dumps({"token": "x" * 40_000}).encode()),
                413, "PAYLOAD_TOO_LARGE"),
    RequestCase("crypto-batch-over-maximum", "crypto", "body", "DESIGN §6",
                lambda h: _encrypt(h, path="/v1/encrypt/batch",
                                   body=json.dumps({"tokens": ["x"] * 1001}).encode()),
                413, "PAYLOAD_TOO_LARGE"),
    RequestCase("crypto-batch-empty", "crypto", "body", "DESIGN §6",
                lambda h: _encrypt(h, path="/v1/encrypt/batch", body=b'{"tokens": []}'),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-form-encoded-body", "crypto", "content-type", _MEDIA,
                lambda h: _encrypt(h, content_type=_FORM,
                                   body=urlencode({"token": h.token}).encode()),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-multipart-body", "crypto", "content-type", _MEDIA,
                lambda h: _encrypt(h, content_type="multipart/form-data; boundary=b",
                                   body=b'--b\r\nContent-Disposition: form-data; name="token"'
                                        b"\r\n\r\n" + h.token.encode() + b"\r\n--b--\r\n"),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-non-utf8-json", "crypto", "encoding", _UTF8,
                lambda h: _encrypt(h, body=b'{"token": "\xff\xfe' + h.token.encode() + b'"}'),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-utf16-json", "crypto", "encoding", _UTF8,
                lambda h: _encrypt(h, content_type="application/json; charset=utf-16",
                                   body=json.dumps({"token": h.token}).encode("utf-16")),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-non-ascii-raw-jwt", "crypto", "encoding", _UTF8,
                lambda h: _encrypt(h, content_type="application/jwt",
                                   body=b"\xff\xfe" + h.token.encode()),
                422, FORMAT),
    RequestCase("crypto-lone-surrogate-in-token", "crypto", "encoding", _UTF8,
                lambda h: _encrypt(h, body=b'{"token": "\\ud800' + h.token.encode() + b'"}'),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-duplicate-json-key-valid-last", "crypto", "duplicate-keys", _DUP_JSON,
                lambda h: _encrypt(h, body=b'{"token": "junk", "token": "'
                                   + h.token.encode() + b'"}'),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-account-field-injection", "crypto", "body", "DESIGN §6 (account = bearer)",
                lambda h: _encrypt(h, body=json.dumps(
                    {"token": h.token, "account": h.tokens.ids["other"]}).encode()),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-token-not-a-string", "crypto", "body", "DESIGN §6",
                lambda h: _encrypt(h, body=b'{"token": ["a", "b"]}'), 400, "REQUEST_INVALID"),
    RequestCase("crypto-deeply-nested-json", "crypto", "body", _NESTING,
                lambda h: _encrypt(h, body=b'{"token": ' + _deep(10_000).encode() + b"}"),
                400, "REQUEST_INVALID"),
    RequestCase("crypto-get-encrypt", "crypto", "method", "RFC 9110 §15.5.6",
                lambda h: _encrypt(h, method="GET", body=b"", content_type=None), 405,
                "METHOD_NOT_ALLOWED"),
    # -- Authorization API ------------------------------------------------------------------
    RequestCase("authz-json-body", "authz", "content-type", _MEDIA,
                lambda h: _token_request(h, body=json.dumps(dict(_grant(h))).encode(),
                                         content_type=_JSON),
                400, None, "invalid_request"),
    RequestCase("authz-multipart-body", "authz", "content-type", _MEDIA,
                lambda h: _token_request(h, content_type="multipart/form-data; boundary=b",
                                         body=b"--b--\r\n"),
                400, None, "invalid_request"),
    RequestCase("authz-no-content-type", "authz", "content-type", _MEDIA,
                lambda h: _token_request(h, content_type=None), 400, None, "invalid_request"),
    RequestCase("authz-non-utf8-form", "authz", "encoding", _UTF8,
                lambda h: _token_request(h, body=urlencode(_grant(h)).encode() + b"%FF\xff"),
                400, None, "invalid_request"),
    RequestCase("authz-repeated-assertion", "authz", "repeated-parameter", _RFC6749,
                lambda h: _token_request(h, [*_grant(h), ("assertion", "junk")]),
                400, None, "invalid_request"),
    RequestCase("authz-repeated-client-id", "authz", "repeated-parameter", _RFC6749,
                lambda h: _token_request(h, [*_grant(h), ("client_id", h.tokens.ids["other"])]),
                400, None, "invalid_request"),
    RequestCase("authz-repeated-grant-type", "authz", "repeated-parameter", _RFC6749,
                lambda h: _token_request(h, [("grant_type", "client_credentials"), *_grant(h)]),
                400, None, "invalid_request"),
    RequestCase("authz-body-over-64k", "authz", "body", _BODY,
                lambda h: _token_request(h, _grant(h, assertion="x" * 70_000)),
                413, None, "invalid_request"),
    RequestCase("authz-parameters-in-query", "authz", "body", _RFC6749,
                lambda h: _token_request(h, body=b"", query="?" + urlencode(_grant(h))),
                400, None, "invalid_request"),
    RequestCase("authz-client-id-traversal", "authz", "client-id", "RFC 8725 §3.10",
                lambda h: _token_request(h, _grant(h, client_id=f"../{h.tokens.ids['ec']}")),
                401, None, "invalid_client"),
    RequestCase("authz-client-id-nul-byte", "authz", "client-id", "RFC 8725 §3.10",
                lambda h: _token_request(h, _grant(h, client_id=h.tokens.ids["ec"] + "\x00")),
                401, None, "invalid_client"),
    RequestCase("authz-token-for-another-client", "authz", "client-id", _RFC7523,
                lambda h: _token_request(h, _grant(h, client_id=h.tokens.ids["rsa"])),
                400, SIGNATURE, "invalid_grant"),
    RequestCase("authz-scope-escalation", "authz", "scope", "RFC 6749 §3.3, §5.2",
                lambda h: _token_request(h, _grant(h, scope="token:encrypt admin")),
                400, None, "invalid_scope"),
    RequestCase("authz-grant-type-case-variant", "authz", "grant-type", "RFC 7523 §2.1",
                lambda h: _token_request(h, _grant(h, grant_type=JWT_BEARER.upper())),
                400, None, "unsupported_grant_type"),
)  # fmt: skip


# -- README tables ----------------------------------------------------------------------------


def _authz(expect: Expect) -> str:
    status, error, code = expect.authz
    return f"{status} `{error}`" + (f" `{code}`" if code else "")


def markdown() -> str:
    """The generated part of ``tests/hostile/README.md``."""
    lines = [
        f"{len(CASES)} hostile tokens in {len(ATTACKS)} attack classes, and "
        f"{len(REQUESTS)} hostile requests.",
        "",
        "| attack class | cases | what |",
        "|---|---|---|",
    ]
    counts = Counter(case.attack for case in CASES)
    lines += [f"| `{name}` | {counts[name]} | {what} |" for name, what in ATTACKS.items()]
    lines += [
        "",
        "### Tokens",
        "",
        "| id | attack | account | reference | verifier | authz jwt-bearer | crypto /v1/encrypt |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        e = case.expect
        limit = f" (< {case.max_seconds:g} s)" if case.max_seconds else ""
        lines.append(
            f"| `{case.id}` | {case.attack} | {case.account} | {case.reference} | "
            f"`{e.verifier}`{limit} | {_authz(e)} | {e.crypto[0]} `{e.crypto[1]}` |"
        )
    lines += [
        "",
        "### Requests",
        "",
        "| id | API | attack | reference | expected |",
        "|---|---|---|---|---|",
    ]
    for request in REQUESTS:
        answer = " ".join(f"`{part}`" for part in (request.error, request.code) if part is not None)
        lines.append(
            f"| `{request.id}` | {request.surface} | {request.attack} | {request.reference} | "
            f"{request.status} {answer} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - python -m tests.hostile.corpus --markdown
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m tests.hostile.corpus --markdown")
    sys.stdout.write(markdown())
