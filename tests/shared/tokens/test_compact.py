"""The format gate (``shared.tokens.compact.parse_compact``): DESIGN §2's first two table rows.

Pure unit tests: no Vault, no cryptography. Signatures and ciphertexts are placeholder
bytes, because the gate only checks form; every refusal must be ``TokenInvalidFormat`` (or
``TokenEmpty``) and never another exception.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.errors import TokenEmpty, TokenInvalidFormat
from shared.tokens.compact import CompactToken, Limits, parse_compact
from tests.support.tokens import b64

HEADER: dict[str, Any] = {"alg": "ES256", "typ": "JWT"}
PAYLOAD: dict[str, Any] = {"sub": "participant-42", "campaignId": "1001"}
SIGNATURE = b64(b"\x01" * 64)
JWE_HEADER: dict[str, Any] = {
    "alg": "RSA-OAEP-256",
    "enc": "A256GCM",
    "kid": "acme/1",
    "cty": "JWT",
}


def jws(
    header: dict[str, Any] | str | bytes = HEADER,
    payload: dict[str, Any] | str | bytes = PAYLOAD,
    signature: str = SIGNATURE,
) -> str:
    """A compact JWS from a header and payload (objects, raw JSON text or raw bytes)."""
    return f"{b64(header)}.{b64(payload)}.{signature}"


def jwe(header: dict[str, Any] | str = JWE_HEADER) -> str:
    """A compact JWE with placeholder key, iv, ciphertext and tag."""
    parts = [b"\x02" * 256, b"\x03" * 12, b"\x04" * 40, b"\x05" * 16]
    return ".".join([b64(header), *(b64(p) for p in parts)])


def with_segment(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def refused(token: object, limits: Limits = Limits()) -> TokenInvalidFormat:
    """Parse ``token`` expecting TOKEN_INVALID_FORMAT; return the error."""
    with pytest.raises(TokenInvalidFormat) as info:
        parse_compact(token, limits)
    assert type(info.value) is TokenInvalidFormat
    assert info.value.code == "TOKEN_INVALID_FORMAT"
    assert info.value.retryable is False
    return info.value


# -- TOKEN_EMPTY ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [None, "", " ", "\t\r\n ", "\u3000", b"", b"  \n"],
    ids=["none", "empty", "space", "mixed-whitespace", "ideographic-space", "empty-bytes",
         "whitespace-bytes"],
)  # fmt: skip
def test_nothing_is_token_empty(token: object) -> None:
    """None, an empty string and whitespace only (str or bytes) are TOKEN_EMPTY."""
    with pytest.raises(TokenEmpty) as info:
        parse_compact(token)
    assert type(info.value) is TokenEmpty
    assert info.value.code == "TOKEN_EMPTY"


# -- TOKEN_INVALID_FORMAT: shape and size -------------------------------------------------


def test_token_over_size_limit_is_invalid_format() -> None:
    """A well-formed JWS one byte over the token size limit is refused before any decoding."""
    token = jws(payload={**PAYLOAD, "custom": {"pad": "x" * 20_000}})
    assert len(token) > Limits().max_token_bytes
    assert "limit" in refused(token).detail


def test_size_limit_boundary_is_inclusive() -> None:
    """A token exactly at ``max_token_bytes`` parses; one byte more is refused."""
    token = jws()
    assert parse_compact(token, Limits(max_token_bytes=len(token))).text == token
    refused(token, Limits(max_token_bytes=len(token) - 1))


def test_header_over_header_limit_is_invalid_format() -> None:
    """A header larger than ``max_header_bytes`` is refused even when the token is small."""
    token = jws(header={**HEADER, "pad": "x" * 3_000})
    assert "header is larger" in refused(token).detail


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        f"{b64(HEADER)}.{b64(PAYLOAD)}",
        jws() + ".AAAA",
        jwe() + ".AAAA",
        "..",
        "....",
        ".......",
        jws().replace(".", "..", 1),
    ],
    ids=["1-part", "2-parts", "4-parts", "6-parts", "3-empty-parts", "5-empty-parts",
         "8-parts", "double-dot"],
)  # fmt: skip
def test_wrong_number_of_parts_is_invalid_format(token: str) -> None:
    """Anything but 3 (JWS) or 5 (JWE) dot-separated parts, or empty ones, is refused."""
    refused(token)


@pytest.mark.parametrize(
    "token",
    [123, 1.5, ["a.b.c"], {"token": "a.b.c"}, object()],
    ids=["int", "float", "list", "dict", "object"],
)
def test_non_string_token_is_invalid_format(token: object) -> None:
    """A token that is neither str nor bytes is TOKEN_INVALID_FORMAT, not a TypeError."""
    refused(token)


# -- TOKEN_INVALID_FORMAT: base64url ------------------------------------------------------


def _trailing_bits(segment: str) -> str:
    """The same bytes spelt with stray low bits set in the last character."""
    assert len(segment) % 4 in (2, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) + 1]


_HEADER_B64 = b64(HEADER)
_PADDED_HEADER = base64.urlsafe_b64encode(b'{"alg":"ES256" }').decode()
assert _PADDED_HEADER.endswith("==")

BAD_BASE64 = {
    "plus-in-signature": with_segment(jws(), 2, SIGNATURE[:10] + "+" + SIGNATURE[11:]),
    "slash-in-payload": with_segment(jws(), 1, "/" + b64(PAYLOAD)[1:]),
    "padding-on-header": with_segment(jws(), 0, _PADDED_HEADER),
    "equals-inside": with_segment(jws(), 2, "AA==AA"),
    "length-1-mod-4": with_segment(jws(), 2, "AAAAA"),
    "space-inside": with_segment(jws(), 1, b64(PAYLOAD)[:5] + " " + b64(PAYLOAD)[5:]),
    "newline-inside-header": with_segment(jws(), 0, _HEADER_B64 + "\n"),
    "tab-inside-payload": with_segment(jws(), 1, b64(PAYLOAD) + "\t"),
    "non-ascii-letter": with_segment(jws(), 2, "é" + SIGNATURE[1:]),
    "percent-encoded": with_segment(jws(), 2, "%3D" + SIGNATURE),
    "jwe-bad-iv": with_segment(jwe(), 2, "AA+A"),
    "jwe-bad-tag": with_segment(jwe(), 4, "AA/A"),
    "jwe-padded-key": with_segment(jwe(), 1, "AAAA===="),
}


@pytest.mark.parametrize("token", BAD_BASE64.values(), ids=BAD_BASE64.keys())
def test_bad_base64url_is_invalid_format(token: str) -> None:
    """Characters outside the base64url alphabet, padding and impossible lengths are refused."""
    refused(token)


def _json_with_trailing_bits(value: dict[str, Any]) -> str:
    """JSON text whose byte length leaves stray bits in its base64url form (len % 3 == 1)."""
    text = json.dumps(value)
    while len(text) % 3 != 1:
        text += " "  # insignificant whitespace
    return text


@pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
def test_non_canonical_base64url_is_invalid_format(index: int) -> None:
    """A segment with stray trailing bits (a second spelling of the same bytes) is refused."""
    token = jws(
        header=_json_with_trailing_bits(HEADER),
        payload=_json_with_trailing_bits(PAYLOAD),
        signature=b64(b"\x01" * 65),
    )
    assert parse_compact(token).payload == PAYLOAD  # canonical spelling parses
    segment = token.split(".")[index]
    refused(with_segment(token, index, _trailing_bits(segment)))


def test_non_ascii_bytes_are_invalid_format() -> None:
    """A bytes token that is not ASCII is refused without a UnicodeDecodeError escaping."""
    assert "ASCII" in refused(jws().encode() + b"\xff").detail
    refused(b"\xc3\xa9" + jws().encode())


# -- TOKEN_INVALID_FORMAT: JSON -----------------------------------------------------------

BAD_JSON = {
    "header-not-json": jws(header="not json"),
    "header-not-utf8": jws(header=b"\xff\xfe{}"),
    "header-utf8-bom": jws(header='\ufeff{"alg":"ES256"}'),
    "header-array": jws(header='["alg", "ES256"]'),
    "header-string": jws(header='"ES256"'),
    "header-number": jws(header="256"),
    "header-null": jws(header="null"),
    "header-empty": f".{b64(PAYLOAD)}.{SIGNATURE}",
    "header-trailing-garbage": jws(header='{"alg":"ES256"} x'),
    "payload-not-json": jws(payload="sub=participant-42"),
    "payload-array": jws(payload='[{"sub":"a","campaignId":"1"}]'),
    "payload-string": jws(payload='"participant-42"'),
    "payload-null": jws(payload="null"),
    "payload-empty": f"{b64(HEADER)}..{SIGNATURE}",
    "duplicate-alg-in-header": jws(header='{"alg":"ES256","alg":"none"}'),
    "duplicate-kid-in-header": jws(header='{"alg":"ES256","kid":"a","kid":"b"}'),
    "duplicate-sub-in-payload": jws(payload='{"sub":"a","sub":"b","campaignId":"1"}'),
    "duplicate-campaign-in-payload": jws(payload='{"sub":"a","campaignId":"1","campaignId":"2"}'),
    "duplicate-nested-in-payload": jws(
        payload='{"sub":"a","campaignId":"1","gift":{"cw":false,"cw":true}}'
    ),
    "nan-in-payload": jws(payload='{"sub":"a","campaignId":"1","exp":NaN}'),
    "infinity-in-payload": jws(payload='{"sub":"a","campaignId":"1","exp":Infinity}'),
    "minus-infinity-in-payload": jws(payload='{"sub":"a","campaignId":"1","nbf":-Infinity}'),
    "nan-in-header": jws(header='{"alg":"ES256","x":NaN}'),
    "deeply-nested-payload": jws(payload="[" * 5_000 + "]" * 5_000),
    "huge-integer-in-payload": jws(payload='{"sub":' + "9" * 5_000 + "}"),
    "jwe-header-not-json": jwe(header="not json"),
    "jwe-header-array": jwe(header='["RSA-OAEP-256"]'),
    "jwe-duplicate-enc": jwe(header='{"alg":"dir","enc":"A256GCM","enc":"A128GCM"}'),
}


@pytest.mark.parametrize("token", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_header_or_payload_not_a_json_object_is_invalid_format(token: str) -> None:
    """Header and payload must be strict JSON objects: no duplicates, NaN or Infinity."""
    refused(token)


# -- TOKEN_INVALID_FORMAT: header parameters ----------------------------------------------

BAD_HEADERS = {
    "no-alg": {"typ": "JWT"},
    "empty-alg": {"alg": ""},
    "null-alg": {"alg": None},
    "numeric-alg": {"alg": 256},
    "list-alg": {"alg": ["ES256"]},
    "object-alg": {"alg": {"name": "ES256"}},
    "bool-alg": {"alg": True},
    "numeric-kid": {"alg": "ES256", "kid": 1},
    "null-kid": {"alg": "ES256", "kid": None},
    "list-kid": {"alg": "ES256", "kid": ["a"]},
    "numeric-typ": {"alg": "ES256", "typ": 1},
    "object-cty": {"alg": "ES256", "cty": {}},
    "jku": {"alg": "ES256", "jku": "https://evil.example/jwks.json"},
    "x5u": {"alg": "ES256", "x5u": "https://evil.example/cert.pem"},
    "jwk": {"alg": "ES256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
    "x5c": {"alg": "ES256", "x5c": ["MIIBszCCAVmgAwIBAgIUK"]},
    "zip": {"alg": "ES256", "zip": "DEF"},
    "b64-false": {"alg": "ES256", "b64": False, "crit": ["b64"]},
    "b64-true": {"alg": "ES256", "b64": True},
    "crit-unknown": {"alg": "ES256", "crit": ["urn:example:ext"], "urn:example:ext": 1},
    "crit-registered-name": {"alg": "ES256", "crit": ["exp"], "exp": 1},
    "crit-empty": {"alg": "ES256", "crit": []},
    "crit-not-a-list": {"alg": "ES256", "crit": "exp"},
}  # fmt: skip


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_refused_jws_header_is_invalid_format(header: dict[str, Any]) -> None:
    """A JWS header without a string alg, with a mistyped parameter, a key source, zip, b64
    or any crit is refused."""
    refused(jws(header=header))


BAD_JWE_HEADERS = {
    "no-enc": {"alg": "RSA-OAEP-256", "kid": "acme/1"},
    "empty-enc": {"alg": "RSA-OAEP-256", "enc": "", "kid": "acme/1"},
    "numeric-enc": {"alg": "RSA-OAEP-256", "enc": 256, "kid": "acme/1"},
    "no-alg": {"enc": "A256GCM", "kid": "acme/1"},
    "zip": {**JWE_HEADER, "zip": "DEF"},
    "jku": {**JWE_HEADER, "jku": "https://evil.example/jwks.json"},
    "jwk": {**JWE_HEADER, "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
    "x5c": {**JWE_HEADER, "x5c": ["MIIB"]},
    "x5u": {**JWE_HEADER, "x5u": "https://evil.example/cert.pem"},
    "crit": {**JWE_HEADER, "crit": ["kid"]},
    "numeric-kid": {**JWE_HEADER, "kid": 1},
}


@pytest.mark.parametrize("header", BAD_JWE_HEADERS.values(), ids=BAD_JWE_HEADERS.keys())
def test_refused_jwe_header_is_invalid_format(header: dict[str, Any]) -> None:
    """A JWE header without enc, or with a refused parameter, is refused before decryption."""
    refused(jwe(header=header))


def test_every_refused_parameter_is_named_in_the_detail() -> None:
    """The detail of a refused-parameter error names the parameters, for the operator."""
    detail = refused(jws(header={"alg": "ES256", "jku": "x", "x5c": ["y"]})).detail
    assert "jku" in detail
    assert "x5c" in detail


# -- accepted -------------------------------------------------------------------------------


def test_valid_jws_parses() -> None:
    """A well-formed JWS gives its header, decoded payload and segments."""
    token = jws()
    parsed = parse_compact(token)
    assert isinstance(parsed, CompactToken)
    assert parsed.is_jwe is False
    assert parsed.header == HEADER
    assert parsed.payload == PAYLOAD
    assert parsed.segments == tuple(token.split("."))
    assert parsed.raw(2) == b"\x01" * 64


def test_valid_jwe_parses_without_payload() -> None:
    """A well-formed 5-part JWE gives its header and segments; its content stays undecoded."""
    token = jwe()
    parsed = parse_compact(token)
    assert parsed.is_jwe is True
    assert parsed.header == JWE_HEADER
    assert parsed.payload is None
    assert parsed.raw(1) == b"\x02" * 256
    assert parsed.raw(4) == b"\x05" * 16


def test_jwe_with_empty_encrypted_key_parses() -> None:
    """A ``dir`` JWE has an empty encrypted-key segment; that is well formed."""
    token = with_segment(jwe(header={"alg": "dir", "enc": "A256GCM"}), 1, "")
    assert parse_compact(token).raw(1) == b""


@pytest.mark.parametrize(
    "token", [jws().encode(), bytearray(jws().encode())], ids=["bytes", "bytearray"]
)
def test_ascii_bytes_are_accepted(token: object) -> None:
    """A token given as ASCII bytes parses like the string."""
    assert parse_compact(token).text == jws()


@pytest.mark.parametrize(
    "token",
    [f"  {jws()}", f"{jws()}\n", f"\t{jws()}\r\n", f" {jws()} ", f"{jws()}\u00a0".encode()],
    ids=["leading-spaces", "trailing-newline", "tabs-and-crlf", "both", "nbsp-bytes"],
)
def test_surrounding_whitespace_is_refused(token: object) -> None:
    """RFC 7515 §3.1: the compact form has no whitespace; a component that stripped it
    would disagree with one that did not on what the token is (issue 18)."""
    with pytest.raises(TokenInvalidFormat) as refused:
        parse_compact(token)
    if isinstance(token, str):
        assert "whitespace around it" in refused.value.detail


@pytest.mark.parametrize("token", ["", " ", "\n", "\t \r\n"])
def test_blank_is_still_empty(token: str) -> None:
    """Nothing but whitespace is no token at all (a blank field): TOKEN_EMPTY."""
    with pytest.raises(TokenEmpty):
        parse_compact(token)


def test_unregistered_non_critical_header_parameter_is_accepted() -> None:
    """A header parameter we do not know and that is not critical is ignored (RFC 7515 §4)."""
    header = {**HEADER, "kid": "k1", "x-trace": "abc"}
    assert parse_compact(jws(header=header)).header == header
