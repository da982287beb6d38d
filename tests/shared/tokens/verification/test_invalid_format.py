"""Step 2 of DESIGN §2: ``TOKEN_INVALID_FORMAT``: size, parts, base64url, JSON objects,
``alg``, refused header parameters, and a JWE whose content is not a JWS; checked before the
account is looked at."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwe
from joserfc.jwk import RSAKey

from shared import Verifier
from tests.support.tokens import b64, claims, private_key, replace_part, sign
from tests.support.verification import (
    FORMAT,
    NOW,
    TRANSIT,
    Accounts,
    at_now,
    encrypt,
    hs_sign,
    refused,
)

_CLAIMS = at_now()


def _signed_format_cases(secret: bytes) -> dict[str, str]:
    """Tokens correctly signed with the HMAC account's secret, but badly formed."""
    good = hs_sign({"alg": "HS256", "typ": "JWT"}, _CLAIMS, secret)
    h, p, s = good.split(".")
    return {
        "two-parts": f"{h}.{p}",
        "four-parts": f"{good}.{s}",
        "six-parts": f"{good}.{h}.{p}.{s}",
        "plus-in-signature": f"{h}.{p}.+{s[1:]}",
        "padded-signature": f"{h}.{p}.{s}=",
        "header-not-json": hs_sign("HS256", _CLAIMS, secret),
        "payload-not-json": hs_sign({"alg": "HS256"}, "sub=participant-42", secret),
        "payload-array": hs_sign({"alg": "HS256"}, "[1, 2]", secret),
        "duplicate-sub": hs_sign(
            {"alg": "HS256"}, '{"sub":"a","sub":"b","campaignId":"1001"}', secret
        ),
        "nan-exp": hs_sign({"alg": "HS256"}, '{"sub":"a","campaignId":"1001","exp":NaN}', secret),
        "header-without-alg": hs_sign({"typ": "JWT"}, _CLAIMS, secret),
        "alg-not-a-string": hs_sign({"alg": ["HS256"]}, _CLAIMS, secret),
        "crit-unknown": hs_sign(
            {"alg": "HS256", "crit": ["https://example.com/x"], "https://example.com/x": 1},
            _CLAIMS,
            secret,
        ),
        "crit-exp": hs_sign({"alg": "HS256", "crit": ["exp"], "exp": NOW + 60}, _CLAIMS, secret),
        "b64-false": hs_sign({"alg": "HS256", "b64": False, "crit": ["b64"]}, _CLAIMS, secret),
        "zip": hs_sign({"alg": "HS256", "zip": "DEF"}, _CLAIMS, secret),
        "jku": hs_sign({"alg": "HS256", "jku": "https://evil.example/jwks.json"}, _CLAIMS, secret),
        "oversize": hs_sign({"alg": "HS256"}, {**_CLAIMS, "custom": {"pad": "x" * 17_000}}, secret),
    }


FORMAT_CASES = list(_signed_format_cases(b"placeholder"))


@pytest.mark.parametrize("case", FORMAT_CASES)
def test_badly_formed_signed_jws_is_invalid_format(
    verifier: Verifier, accounts: Accounts, case: str
) -> None:
    """A JWS whose signature is genuine but whose form breaks a §2 rule is TOKEN_INVALID_FORMAT."""
    token = _signed_format_cases(accounts.secret)[case]
    refused(verifier, token, accounts.hmac.id, FORMAT)


@pytest.mark.parametrize("case", ["two-parts", "header-without-alg", "jku", "oversize"])
def test_format_is_checked_before_the_account(verifier: Verifier, case: str) -> None:
    """A malformed token is TOKEN_INVALID_FORMAT even for an unknown account (form is step 1)."""
    refused(verifier, _signed_format_cases(b"k" * 64)[case], "no-such-account", FORMAT)


_EVIL = "https://evil.example"
KEY_SOURCE_HEADERS: dict[str, Callable[[], dict[str, Any]]] = {
    "jku": lambda: {"jku": f"{_EVIL}/jwks.json"},
    "x5u": lambda: {"x5u": f"{_EVIL}/cert.pem"},
    "jwk": lambda: {"jwk": private_key("ec-p256-other").as_dict(private=False)},
    "x5c": lambda: {"x5c": ["MIIBszCCAVmgAwIBAgIUKz"]},
}


@pytest.mark.parametrize("param", KEY_SOURCE_HEADERS.keys())
@pytest.mark.parametrize("signer", ["ec-p256", "ec-p256-other"], ids=["own-key", "attacker-key"])
def test_key_source_in_header_is_invalid_format(
    verifier: Verifier, accounts: Accounts, param: str, signer: str
) -> None:
    """jku/x5u/jwk/x5c in a JWS header are TOKEN_INVALID_FORMAT, whichever key signed it."""
    token = sign(at_now(), "ES256", signer, **KEY_SOURCE_HEADERS[param]())
    refused(verifier, token, accounts.ec.id, FORMAT)


@pytest.mark.parametrize(
    "crit", [["exp"], ["https://example.com/x"], []], ids=["exp", "uri", "empty"]
)
def test_crit_in_jws_is_invalid_format(
    verifier: Verifier, accounts: Accounts, crit: list[str]
) -> None:
    """Any ``crit`` is TOKEN_INVALID_FORMAT: we understand no extension."""
    token = hs_sign(
        {"alg": "HS256", "crit": crit, **dict.fromkeys(crit, 1)}, at_now(), accounts.secret
    )
    refused(verifier, token, accounts.hmac.id, FORMAT)


def test_jws_over_size_limit_is_invalid_format(verifier: Verifier, accounts: Accounts) -> None:
    """A correctly signed JWS larger than the token limit is TOKEN_INVALID_FORMAT."""
    token = sign(at_now(custom={"pad": "x" * 17_000}), "ES256", "ec-p256")
    assert "limit" in refused(verifier, token, accounts.ec.id, FORMAT).detail


def test_zip_jwe_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey, ec_jws: str
) -> None:
    """A real compressed (``zip: DEF``) JWE is TOKEN_INVALID_FORMAT, never inflated."""
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "zip": "DEF", "kid": f"{accounts.ec.id}/1"}
    token = jwe.encrypt_compact(header, ec_jws.encode(), ec_public, algorithms=[*TRANSIT, "DEF"])
    refused(verifier, token, accounts.ec.id, FORMAT)


def _inner(plaintext: bytes, accounts: Accounts, key: RSAKey) -> str:
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": f"{accounts.ec.id}/1", "cty": "JWT"}
    return encrypt(header, plaintext, key)


def test_jwe_inside_jwe_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey, sealed: str
) -> None:
    """A JWE whose content is another (valid) JWE is TOKEN_INVALID_FORMAT."""
    refused(verifier, _inner(sealed.encode(), accounts, ec_public), accounts.ec.id, FORMAT)


NOT_A_JWS = {
    "plain-json": json.dumps(claims()).encode(),
    "empty": b"",
    "whitespace": b"  \n",
    "binary": bytes(range(256)),
    "non-ascii-text": "participant-42 é".encode(),
    "two-parts": b"eyJhbGciOiJFUzI1NiJ9.e30",
}


@pytest.mark.parametrize("plaintext", NOT_A_JWS.values(), ids=NOT_A_JWS.keys())
def test_jwe_not_containing_a_jws_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey, plaintext: bytes
) -> None:
    """A JWE that decrypts to anything but a compact JWS (plain JSON...) is TOKEN_INVALID_FORMAT."""
    refused(verifier, _inner(plaintext, accounts, ec_public), accounts.ec.id, FORMAT)


def test_jwe_containing_jws_with_refused_header_is_invalid_format(
    verifier: Verifier, accounts: Accounts, ec_public: RSAKey
) -> None:
    """The inner JWS passes the same format gate: a ``jku`` inside a JWE is refused too."""
    inner = sign(at_now(), "ES256", "ec-p256", jku=f"{_EVIL}/jwks.json")
    refused(verifier, _inner(inner.encode(), accounts, ec_public), accounts.ec.id, FORMAT)


BROKEN_JWE = {
    "bad-base64-tag": lambda t: replace_part(t, 4, "+" + t.split(".")[4][1:]),
    "padded-iv": lambda t: replace_part(t, 2, t.split(".")[2] + "=="),
    "header-not-json": lambda t: replace_part(t, 0, b64("RSA-OAEP-256")),
    "header-without-enc": lambda t: replace_part(t, 0, b64({"alg": "RSA-OAEP-256"})),
    "four-parts": lambda t: t.rsplit(".", 1)[0],
    "six-parts": lambda t: t + ".AAAA",
}


@pytest.mark.parametrize("breaker", BROKEN_JWE.values(), ids=BROKEN_JWE.keys())
def test_badly_formed_jwe_is_invalid_format(
    verifier: Verifier, accounts: Accounts, sealed: str, breaker: Callable[[str], str]
) -> None:
    """A sealed JWE with a broken segment or header is TOKEN_INVALID_FORMAT before decryption."""
    refused(verifier, breaker(sealed), accounts.ec.id, FORMAT)
