"""Parsing compact JWS/JWE strings, with every format rule of DESIGN §2 checked up front.

joserfc parses too, but with its defaults it lets through things we refuse and on some
malformed input raises plain Python exceptions; so the format gate is ours and total: any
input gives a :class:`CompactToken` or a :class:`~shared.errors.TokenEmpty` /
:class:`~shared.errors.TokenInvalidFormat`, never another exception.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any, Final

import msgspec

from shared.algorithms import REFUSED_HEADER_PARAMS
from shared.errors import TokenEmpty, TokenInvalidFormat

__all__ = ["CompactToken", "Limits", "parse_compact", "without_line_ending"]

#: fullmatch: ``$`` would also match before a final newline.
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: Each base64url character's six bits.
_SIXTETS: Final = {char: value for value, char in enumerate(_ALPHABET)}
#: A segment of 4n+2 (4n+3) characters ends in a character whose last 4 (2) bits encode
#: nothing: canonical only when they are zero (RFC 4648 §3.5).
_UNUSED_BITS: Final = {2: 0b1111, 3: 0b11}
_TO_STANDARD: Final = str.maketrans("-_", "+/")
#: Header parameters that must be strings when present (RFC 7515 §4.1, RFC 7516 §4.1).
_STRING_PARAMS: Final = ("alg", "enc", "kid", "typ", "cty")


class Limits(msgspec.Struct, frozen=True):
    """Size limits applied before any decoding work.

    16 KiB covers a JWE of a token with a full profile several times over, while staying
    under what URLs (``?qual_token=``) carry in practice; headers are tiny in honest tokens.
    """

    max_token_bytes: int = 16_384
    max_header_bytes: int = 2_048


class CompactToken(msgspec.Struct, frozen=True):
    """A compact JWS (3 segments) or JWE (5 segments) that passed the format gate."""

    text: str
    segments: tuple[str, ...]
    header: dict[str, Any]
    #: JWS only: the decoded payload object.
    payload: dict[str, Any] | None
    #: Every segment decoded (the format gate decodes each once; nobody decodes again).
    decoded: tuple[bytes, ...] = ()

    @property
    def is_jwe(self) -> bool:
        """True for a 5-segment JWE."""
        return len(self.segments) == 5

    def raw(self, index: int) -> bytes:
        """Decoded bytes of segment ``index`` (already checked to decode)."""
        if self.decoded:
            return self.decoded[index]
        return _b64decode(self.segments[index])


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # RFC 7515 §5.2: reject duplicate names; parsers disagree on which one wins.
        raise ValueError("duplicate member name")
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


#: One decoder for every token: ``json.loads`` with hooks builds a decoder (and its
#: scanner) per call, which cost more than the parse (issue 17).
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise TokenInvalidFormat(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise TokenInvalidFormat(f"{what} is not a JSON object")
    return value


def _b64decode(segment: str) -> bytes:
    return binascii.a2b_base64((segment + "=" * (-len(segment) % 4)).translate(_TO_STANDARD))


def _decode_segment(segment: str, what: str) -> bytes:
    if not _B64URL.fullmatch(segment):
        raise TokenInvalidFormat(f"{what} is not base64url (RFC 7515 §2: no padding, '-_' only)")
    rest = len(segment) % 4
    if rest == 1:
        raise TokenInvalidFormat(f"{what} is not valid base64url")
    if rest and _SIXTETS[segment[-1]] & _UNUSED_BITS[rest]:
        # Non-canonical encodings (stray trailing bits) make one token have many spellings.
        raise TokenInvalidFormat(f"{what} is not canonical base64url")
    try:
        return _b64decode(segment)
    except ValueError:  # binascii.Error
        raise TokenInvalidFormat(f"{what} is not valid base64url") from None


def _check_header(header: dict[str, Any], *, jwe: bool) -> None:
    for name in _STRING_PARAMS:
        if name in header and not isinstance(header[name], str):
            raise TokenInvalidFormat(f"header parameter {name!r} must be a string")
    if not header.get("alg"):
        raise TokenInvalidFormat("header has no 'alg'")
    if jwe and not header.get("enc"):
        raise TokenInvalidFormat("JWE header has no 'enc'")
    refused = sorted(REFUSED_HEADER_PARAMS.intersection(header))
    if refused:
        raise TokenInvalidFormat(f"header parameters {refused} are not accepted")
    if "crit" in header:
        # We implement no extension, so every 'crit' entry is one we do not understand
        # (RFC 7515 §4.1.11: such a token must be rejected).
        raise TokenInvalidFormat(f"unsupported critical header parameters {header['crit']!r}")


def without_line_ending(text: str) -> str:
    """``text`` without one final line ending (``\n`` or ``\r\n``): the framing a
    transport adds (``echo`` into stdin, a text body); nothing else is removed."""
    return text.removesuffix("\n").removesuffix("\r")


def parse_compact(token: object, limits: Limits = Limits()) -> CompactToken:
    """Check the form of a compact JWS or JWE and decode its header (and JWS payload).

    The compact form has nothing but its base64url segments and dots (RFC 7515 §3.1, RFC
    7519 §7.2): surrounding whitespace refuses the token like anything else out of place,
    so every component agrees on what a token is (a cache keyed on one spelling, a log or
    a WAF on another, are classic bugs). Transports strip their own framing, explicitly:
    the CLI's ``-`` its stdin line ending, a raw ``application/jwt`` body its final newline.

    Raises:
        TokenEmpty: ``token`` is None, empty or whitespace only.
        TokenInvalidFormat: any format rule of DESIGN §2 fails; ``detail`` says which.
    """
    if isinstance(token, bytes | bytearray):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise TokenInvalidFormat("token is not ASCII") from None
    if token is None:
        raise TokenEmpty("no token was given")
    if isinstance(token, str) and not token.strip():
        raise TokenEmpty("the token is empty" + (" (only whitespace)" if token else ""))
    if not isinstance(token, str):
        raise TokenInvalidFormat(f"token must be a string, not {type(token).__name__}")
    text = token
    if text != text.strip():
        raise TokenInvalidFormat(
            "token has whitespace around it: the compact form has none (RFC 7515 §3.1); "
            "strip it where your transport adds it"
        )
    if len(text) > limits.max_token_bytes:
        raise TokenInvalidFormat(
            f"token is {len(text)} bytes; the limit is {limits.max_token_bytes}"
        )
    segments = tuple(text.split("."))
    if len(segments) not in (3, 5):
        raise TokenInvalidFormat(
            f"token has {len(segments)} dot-separated parts; a JWS has 3 and a JWE 5"
        )
    jwe = len(segments) == 5
    if len(segments[0]) > limits.max_header_bytes * 4 // 3 + 4:
        raise TokenInvalidFormat(f"header is larger than {limits.max_header_bytes} bytes")
    raw_header = _decode_segment(segments[0], "header")
    if len(raw_header) > limits.max_header_bytes:
        raise TokenInvalidFormat(f"header is larger than {limits.max_header_bytes} bytes")
    header = _json_object(raw_header, "header")
    _check_header(header, jwe=jwe)
    names = ("encrypted key", "iv", "ciphertext", "tag") if jwe else ("payload", "signature")
    decoded = [_decode_segment(s, n) for s, n in zip(segments[1:], names, strict=True)]
    payload = None if jwe else _json_object(decoded[0], "payload")
    return CompactToken(
        text=text,
        segments=segments,
        header=header,
        payload=payload,
        decoded=(raw_header, *decoded),
    )
