"""Property-based fuzzing of the token entry points (hypothesis): any input gives a result or
one of our error codes, never another exception; valid tokens round-trip.

Entry points: the format gate (:func:`shared.tokens.compact.parse_compact`), the player's verifier
(:meth:`shared.tokens.verification.Verifier.verify`, on the session's real OpenBao, JWS and JWE),
its steps run offline (:func:`tests.fuzz.corpus.verify_offline`, checked to agree with the
real one), the claim rules, client assertions and the Crypto API's bearer check.

Inputs: arbitrary text, bytes and objects; tokens built from arbitrary JSON headers and
payloads and base64url segments (3 or 5 of them, or not); mutations of valid tokens (bit
flips, segment swaps and splices, truncations, edited headers and claims).

Bounded and deterministic: ``FUZZ_EXAMPLES`` examples per property (default 200), with
derandomized generation and no example database. Deeper, and exploring new ground each time::

    FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 .venv/bin/pytest -q -p no:cacheprovider \\
        tests/fuzz/test_properties.py
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from joserfc import jws as joserfc_jws
from joserfc.jwk import ECKey

from shared import Account, AccountStore, KeyStore, Vault, Verifier
from shared.errors import (
    TokenEmpty,
    TokenError,
    TokenExpired,
    TokenInvalidClaims,
    TokenInvalidFormat,
)
from shared.server.bearer_check import BearerChecker, BearerInvalid, BearerScopeMissing
from shared.server.client_assertion import check_client_assertion
from shared.tokens.claims import check_claims
from shared.tokens.compact import CompactToken, parse_compact
from shared.tokens.jwks import JwksFetcher
from shared.tokens.verification import SignedJws
from tests.fuzz.corpus import (
    CAMPAIGN,
    CODES,
    customer_jwe,
    public_key_account,
    signed,
    symmetric_account,
    transit_jwe,
    verify_offline,
)
from tests.support.jwks_server import JwksServer
from tests.support.tokens import pem, sign

EXAMPLES: Final = int(os.environ.get("FUZZ_EXAMPLES", "200"))
settings.register_profile(
    "fuzz",
    max_examples=EXAMPLES,
    # Two noisy shared cores: a slow example is not a failure.
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    # No .hypothesis/ directory in the work tree; derandomized runs replay by construction.
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
FUZZ: Final = settings.get_profile("fuzz")

#: The clock every check runs at (claims are generated around it): runs are reproducible.
NOW: Final = int(time.time())
#: The Vault account of this module (its key version 1 seals our JWEs).
ACCOUNT_ID: Final = f"fzp-{uuid.uuid4().hex[:10]}"
#: Offline: the same key material as the Vault account, under its id.
OFFLINE: Final = public_key_account(ACCOUNT_ID)
SYMMETRIC: Final = symmetric_account()
ISSUER: Final = "https://authz.fuzz.test"


def assert_refused(exc: TokenError) -> None:
    """``exc`` carries one of DESIGN §2's codes, and not ``UNKNOWN``: that one is for failures
    that are not the token's fault, and nothing is at fault here (Vault is up).

    The code is a hypothesis event: ``--hypothesis-show-statistics`` tells how deep the
    inputs went (format, decryption, signature, claims)."""
    event(exc.code)
    assert exc.code in CODES, exc
    assert exc.code != "UNKNOWN", f"{exc!r}, caused by {exc.__cause__!r}"


# -- strategies -------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


#: Numbers at the edges: what ``1e400`` parses to, beyond floats, past 2**53, subnormal...
edge_numbers = st.one_of(
    st.sampled_from([400, 309, 54]).map(lambda exponent: 10**exponent),
    st.sampled_from(
        [float("inf"), -float("inf"), 1e308, -0.0, 5e-324, 2**53 + 1, -(2**63), 1.5, 0]
    ),
)
#: What a JSON parser can hand over: big integers and +-Infinity (``1e400``) included.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    edge_numbers,
    st.text(max_size=12),
)
json_values = st.one_of(
    json_scalars,
    st.recursive(
        json_scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    ),
)
#: Values that come back from a JSON text as they went in (no infinities).
json_texts = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
ALGS: Final = (
    "ES256",
    "ES384",
    "HS256",
    "RS256",
    "PS256",
    "EdDSA",
    "none",
    "None",
    "",
    "RSA-OAEP-256",
    "RSA-OAEP",
    "RSA1_5",
    "A256KW",
    "A128KW",
    "dir",
    "ECDH-ES",
    "PBES2-HS256+A128KW",
    "A256GCM",
    "A128CBC-HS256",
)
HEADER_NAMES: Final = (
    *("alg", "enc", "kid", "typ", "cty", "crit", "zip", "jku", "x5u", "jwk", "x5c", "b64"),
    *("epk", "p2s", "p2c", "iv", "tag", "apu"),
)
kids = st.one_of(
    st.just(f"{ACCOUNT_ID}/1"),
    st.integers(0, 3).map(lambda v: f"{ACCOUNT_ID}/{v}"),
    st.just("someone-else/1"),
    st.text(max_size=12),
)
header_values = st.one_of(st.sampled_from(ALGS), kids, json_values)
headers = st.one_of(
    # The parameters the format gate and the verifier look at, each maybe present.
    st.fixed_dictionaries({}, optional=dict.fromkeys(HEADER_NAMES, header_values)),
    st.dictionaries(st.sampled_from(HEADER_NAMES) | st.text(max_size=6), header_values, max_size=5),
)
times = st.one_of(st.integers(-(10**6), 10**6).map(lambda d: NOW + d), edge_numbers, json_scalars)
ids = st.one_of(st.just(CAMPAIGN), st.just(int(CAMPAIGN)), edge_numbers, json_scalars)


def valid_claims() -> st.SearchStrategy[dict[str, Any]]:
    """Claims the accounts accept: a campaign of ours, any subject, optional extras."""
    return st.fixed_dictionaries(
        {
            "sub": st.one_of(st.text(min_size=1).filter(str.strip), st.integers()),
            "campaignId": st.sampled_from([CAMPAIGN, int(CAMPAIGN)]),
        },
        optional={
            "exp": st.integers(0, 10**7).map(lambda d: NOW + d),
            "iat": st.integers(0, 10**6).map(lambda d: NOW - d),
            "nbf": st.integers(0, 10**6).map(lambda d: NOW - d),
            "profile": st.dictionaries(st.text(max_size=8), json_texts, max_size=3),
            "custom": st.dictionaries(st.text(max_size=8), json_texts, max_size=3),
            "extra": json_texts,
        },
    )


#: Valid claims but one, set to something else: each rule is reached past the others.
one_bad_claim = st.builds(
    lambda claims, name, value: {**claims, name: value},
    valid_claims(),
    st.sampled_from(["sub", "campaignId", "exp", "nbf", "iat", "iss", "profile", "gift"]),
    st.one_of(edge_numbers, times, ids, json_values),
)
claim_sets = st.one_of(
    one_bad_claim,
    st.fixed_dictionaries(
        {},
        optional={
            "sub": ids,
            "campaignId": ids,
            "exp": times,
            "iat": times,
            "nbf": times,
            "iss": json_scalars,
            "aud": json_values,
            "jti": json_scalars,
            "profile": json_values,
            "custom": json_values,
            "gift": json_values,
        },
    ),
    st.dictionaries(st.text(max_size=8), json_values, max_size=5),
)


def _json_segment(value: Any) -> str:
    return b64(json.dumps(value).encode("utf-8", "surrogatepass"))


segments = st.one_of(
    st.binary(max_size=300).map(b64),
    st.binary(min_size=256, max_size=256).map(b64),  # an RSA-2048 encrypted key's length
    st.binary(min_size=12, max_size=12).map(b64),  # a GCM iv
    st.binary(min_size=16, max_size=16).map(b64),  # a GCM tag
    st.text(alphabet="AQgw-_=+/ .\n\t%é", max_size=20),
    json_values.map(_json_segment),
)


@st.composite
def structured_tokens(draw: st.DrawFn) -> str:
    """Dot-joined segments, mostly 3 (JWS) or 5 (JWE): a JSON header, then a JSON payload or
    random segments, each segment sometimes malformed."""
    count = draw(st.sampled_from([3, 5, 3, 5, 1, 2, 4, 6]))
    header = draw(headers.map(_json_segment) | segments)
    body = draw(claim_sets.map(_json_segment) | segments) if count == 3 else draw(segments)
    rest = draw(st.lists(segments, min_size=max(count - 2, 0), max_size=max(count - 2, 0)))
    token = ".".join([header, body, *rest][:count])
    return draw(st.sampled_from(["", " ", "\n"])) + token + draw(st.sampled_from(["", " \n"]))


def _flip_bit(token: str, segment: int, position: int, bit: int) -> str:
    parts = token.split(".")
    index = segment % len(parts)
    try:
        raw = bytearray(base64.urlsafe_b64decode(parts[index] + "=" * (-len(parts[index]) % 4)))
    except ValueError:
        return token
    if raw:
        raw[position % len(raw)] ^= 1 << (bit % 8)
    parts[index] = b64(bytes(raw))
    return ".".join(parts)


def _edit_json(token: str, segment: int, name: str, value: Any) -> str:
    parts = token.split(".")
    try:
        decoded = json.loads(
            base64.urlsafe_b64decode(parts[segment] + "=" * (-len(parts[segment]) % 4))
        )
    except ValueError:
        return token
    if not isinstance(decoded, dict):
        return token
    if value is _DROP:
        decoded.pop(name, None)
    else:
        decoded[name] = value
    parts[segment] = _json_segment(decoded)
    return ".".join(parts)


_DROP: Final = object()


@st.composite
def mutations(draw: st.DrawFn, token: str, others: tuple[str, ...] = ()) -> str:
    """``token`` after one to three mutations."""
    for _ in range(draw(st.integers(1, 3))):
        parts = token.split(".")
        kind = draw(
            st.sampled_from(
                ["flip", "char", "truncate", "swap", "drop", "dup", "splice", "header", "claims"]
            )
        )
        if kind == "flip":
            token = _flip_bit(
                token, draw(st.integers(0, 4)), draw(st.integers(0, 10**4)), draw(st.integers(0, 7))
            )
        elif kind == "char" and token:
            at = draw(st.integers(0, len(token) - 1))
            token = token[:at] + draw(st.sampled_from(list("A_-.=+/ \n\x00é"))) + token[at + 1 :]
        elif kind == "truncate":
            token = token[: draw(st.integers(0, max(len(token) - 1, 0)))]
        elif kind == "swap" and len(parts) > 1:
            i, j = draw(st.integers(0, len(parts) - 1)), draw(st.integers(0, len(parts) - 1))
            parts[i], parts[j] = parts[j], parts[i]
            token = ".".join(parts)
        elif kind == "drop" and len(parts) > 1:
            del parts[draw(st.integers(0, len(parts) - 1))]
            token = ".".join(parts)
        elif kind == "dup":
            parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(parts)))
            token = ".".join(parts)
        elif kind == "splice" and others:
            donor = draw(st.sampled_from(others)).split(".")
            i = draw(st.integers(0, len(parts) - 1))
            parts[i] = donor[i % len(donor)]
            token = ".".join(parts)
        elif kind == "header":
            value = draw(st.one_of(st.sampled_from(ALGS), kids, json_values, st.just(_DROP)))
            token = _edit_json(token, 0, draw(st.sampled_from(HEADER_NAMES)), value)
        elif kind == "claims" and len(parts) == 3:
            name = draw(st.sampled_from(["sub", "campaignId", "exp", "nbf", "iat", "iss", "x"]))
            token = _edit_json(token, 1, name, draw(st.one_of(times, ids, st.just(_DROP))))
    return token


def _wire(claims: dict[str, Any]) -> dict[str, Any]:
    """``claims`` as they come back from the token's JSON."""
    return json.loads(json.dumps(claims))


#: Valid tokens, built once, that mutations start from (for the offline account).
def _seeds() -> tuple[str, ...]:
    claims = {"sub": "participant-42", "campaignId": CAMPAIGN, "iat": NOW, "exp": NOW + 3600}
    jws = signed(OFFLINE, claims)
    return (jws, customer_jwe(jws, OFFLINE), transit_jwe(jws, ACCOUNT_ID))


SEEDS: Final = _seeds()
#: Authentic tokens with arbitrary claims, so that the claim rules are reached too.
signed_claims = claim_sets.map(lambda claims: signed(OFFLINE, claims))
#: Customer JWEs that open, around anything: junk, JSON, a JWS with arbitrary claims, a JWE.
encrypted = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda value: json.dumps(value).encode()),
    signed_claims.map(str.encode),
    st.sampled_from(SEEDS).map(str.encode),
).map(lambda content: customer_jwe(content, OFFLINE))
inputs = st.one_of(
    st.text(),
    st.binary(),
    structured_tokens(),
    st.sampled_from(SEEDS).flatmap(lambda seed: mutations(seed, SEEDS)),
    signed_claims,
    encrypted,
)


# -- the format gate --------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(), st.binary(), structured_tokens()))
def test_parse_compact_gives_a_token_or_a_format_code(token: str | bytes) -> None:
    """Any text or bytes is a well-formed compact token or TOKEN_EMPTY/TOKEN_INVALID_FORMAT;
    what passes has 3 or 5 segments, a header with a string alg and, for a JWS, a JSON
    object payload."""
    try:
        parsed = parse_compact(token)
    except (TokenEmpty, TokenInvalidFormat):
        return
    assert isinstance(parsed, CompactToken)
    text = token.decode("ascii") if isinstance(token, bytes) else token
    assert parsed.text == text.strip()
    assert len(parsed.segments) in (3, 5)
    assert isinstance(parsed.header["alg"], str)
    assert parsed.header["alg"]
    assert (parsed.payload is None) == parsed.is_jwe
    assert parsed.is_jwe or isinstance(parsed.payload, dict)


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.floats(), json_values, st.binary().map(bytearray)))
def test_parse_compact_refuses_what_is_not_text(token: object) -> None:
    """Not a string: TOKEN_EMPTY or TOKEN_INVALID_FORMAT (or a token, for ASCII bytes)."""
    with contextlib.suppress(TokenEmpty, TokenInvalidFormat):
        parse_compact(token)


@FUZZ
@given(headers, claim_sets)
def test_parse_compact_round_trips_what_it_accepts(
    header: dict[str, Any], claims: dict[str, Any]
) -> None:
    """A JWS built from JSON objects parses back to the same header and claims, or is
    refused with TOKEN_INVALID_FORMAT (a refused header parameter, a non-string alg...)."""
    text = ".".join([_json_segment(header), _json_segment(claims), b64(b"signature")])
    try:
        parsed = parse_compact(text)
    except TokenInvalidFormat:
        return
    assert parsed.header == json.loads(json.dumps(header))
    assert parsed.payload == json.loads(json.dumps(claims))


# -- the verifier's steps, offline -------------------------------------------------------------


@FUZZ
@given(inputs, st.sampled_from([OFFLINE, SYMMETRIC]))
def test_offline_verification_gives_claims_or_a_code(token: str | bytes, account: Account) -> None:
    """Any input, through every step of the verifier (format, JWE opening, signature,
    claims) for an account in memory: the claims, or a TokenError with a DESIGN §2 code."""
    try:
        verify_offline(token, account, now=NOW)
    except TokenError as exc:
        assert_refused(exc)
        return
    event("verified")


@FUZZ
@given(
    valid_claims(),
    st.sampled_from(["jws", "customer", "transit"]),
    st.sampled_from([OFFLINE, SYMMETRIC]),
)
def test_offline_verification_round_trips(
    claims: dict[str, Any], shape: str, account: Account
) -> None:
    """A valid token, signed and possibly encrypted either way, verifies to its claims."""
    jws = signed(account, claims)
    token = {
        "jws": jws,
        "customer": customer_jwe(jws, account),
        "transit": transit_jwe(jws, account.id),
    }[shape]
    assert verify_offline(token, account, now=NOW) == _wire(claims)


@FUZZ
@given(st.one_of(claim_sets, st.dictionaries(st.text(max_size=8), json_values)))
def test_claim_rules_give_ids_or_a_claims_code(claims: dict[str, Any]) -> None:
    """Any claims (big numbers and infinities included): (sub, campaignId) or
    TOKEN_EXPIRED/TOKEN_INVALID_CLAIMS."""
    try:
        subject, campaign = check_claims(claims, account=OFFLINE, campaign_id=CAMPAIGN, now=NOW)
    except (TokenExpired, TokenInvalidClaims):
        return
    assert subject
    assert campaign == CAMPAIGN


# -- the real verifier, on OpenBao ---------------------------------------------------------


@pytest.fixture(scope="module")
def account(vault: Vault) -> Account:
    """In Vault: the same key material as :data:`OFFLINE`, with a Transit key of its own."""
    return AccountStore(vault).create(OFFLINE)


@pytest.fixture(scope="module")
def verifier(vault: Vault, account: Account) -> Verifier:
    """A verifier on the session's OpenBao, its clock frozen at :data:`NOW`."""
    return Verifier(vault, clock=lambda: NOW)


@pytest.fixture(scope="module")
def sealed(vault: Vault, account: Account) -> Callable[[str], str]:
    """Seal a JWS as the Crypto API does, with the account's real Transit key."""
    key = KeyStore(vault).get(account.id).latest
    return lambda jws: transit_jwe(jws, account.id, key.version, key.pem)


@FUZZ
@given(inputs)
def test_verify_gives_a_token_or_a_code(verifier: Verifier, account: Account, token: Any) -> None:
    """Any input to the player's verifier (JWE through Transit included): a VerifiedToken or
    a TokenError with a DESIGN §2 code; never UNKNOWN while Vault is up."""
    try:
        result = verifier.verify(token, account_id=account.id, campaign_id=CAMPAIGN)
    except TokenError as exc:
        assert_refused(exc)
        return
    event("verified")
    assert result.account_id == account.id
    assert result.campaign_id == CAMPAIGN


@FUZZ
@given(valid_claims(), st.data())
def test_verify_mutated_tokens(
    verifier: Verifier,
    account: Account,
    sealed: Callable[[str], str],
    claims: dict[str, Any],
    data: st.DataObject,
) -> None:
    """A valid JWS, customer JWE or Transit JWE, mutated: refused with a DESIGN §2 code, or
    (a mutation that changed nothing that counts) verified to the very same claims."""
    jws = signed(OFFLINE, claims)
    originals = (jws, customer_jwe(jws, OFFLINE), sealed(jws))
    token = data.draw(st.sampled_from(originals).flatmap(lambda t: mutations(t, originals)))
    try:
        result = verifier.verify(token, account_id=account.id, campaign_id=CAMPAIGN)
    except TokenError as exc:
        assert_refused(exc)
        return
    event("verified")
    assert result.claims == _wire(claims)


@FUZZ
@given(valid_claims(), st.booleans())
def test_verify_round_trips(
    verifier: Verifier,
    account: Account,
    sealed: Callable[[str], str],
    claims: dict[str, Any],
    encrypt: bool,
) -> None:
    """A valid JWS, or the JWE the Crypto API makes of it, verifies to its claims."""
    jws = signed(OFFLINE, claims)
    result = verifier.verify(
        sealed(jws) if encrypt else jws, account_id=account.id, campaign_id=CAMPAIGN
    )
    assert result.claims == _wire(claims)
    assert result.subject == str(claims["sub"])
    assert result.encrypted is encrypt
    assert result.key_version == (1 if encrypt else None)


@FUZZ
@given(
    st.one_of(
        st.text(),
        structured_tokens(),
        # Not Transit JWEs: the offline key is not the account's key in Vault.
        st.sampled_from(SEEDS[:2]).flatmap(lambda s: mutations(s, SEEDS[:2])),
        signed_claims,
        encrypted,
    )
)
def test_offline_steps_agree_with_the_verifier(
    verifier: Verifier, account: Account, token: str
) -> None:
    """The offline steps (what the atheris target fuzzes) and the real verifier give the same
    answer (the same claims, or the same code) for JWS and customer JWEs."""
    try:
        offline: Any = verify_offline(token, account, now=NOW)
    except TokenError as exc:
        offline = exc.code
    try:
        real: Any = verifier.verify(token, account_id=account.id, campaign_id=CAMPAIGN).claims
    except TokenError as exc:
        real = exc.code
    assert offline == real


@FUZZ
@given(inputs)
def test_authenticate_gives_a_signed_jws_or_a_code(
    verifier: Verifier, account: Account, token: Any
) -> None:
    """Client assertions' first step (form and signature, claims unchecked): a SignedJws or a
    TokenError with a DESIGN §2 code."""
    try:
        verifier.authenticate(token, account_id=account.id)
    except TokenError as exc:
        assert_refused(exc)


# -- client assertions and bearers -------------------------------------------------------------

CLIENT: Final = "fuzz-client"
TOKEN_ENDPOINT: Final = f"{ISSUER}/oauth/token"


@FUZZ
@given(
    st.one_of(
        claim_sets,
        st.fixed_dictionaries(
            {"iss": st.just(CLIENT), "sub": st.just(CLIENT)},
            optional={
                "aud": st.one_of(
                    st.just(TOKEN_ENDPOINT), st.lists(st.sampled_from([ISSUER, "x"])), json_values
                ),
                "exp": times,
                "iat": times,
                "nbf": times,
                "jti": st.one_of(st.text(max_size=300), json_scalars),
            },
        ),
    )
)
def test_client_assertion_rules_give_a_jti_or_a_code(claims: dict[str, Any]) -> None:
    """Any claims of an authenticated client assertion: its jti, or TOKEN_EXPIRED /
    TOKEN_INVALID_CLAIMS."""
    signed_jws = SignedJws(
        account=OFFLINE, header={"alg": "ES256"}, claims=claims, algorithm="ES256"
    )
    try:
        result = check_client_assertion(
            signed_jws, client_id=CLIENT, audiences={ISSUER, TOKEN_ENDPOINT}, now=NOW
        )
    except (TokenExpired, TokenInvalidClaims):
        return
    assert result.jti == claims["jti"]


@pytest.fixture(scope="module")
def bearer_jwks() -> Iterator[str]:
    """A real JWKS endpoint publishing ``tests/keys/ec-p256`` as the authz signing key."""
    server = JwksServer().start()
    key = ECKey.import_key(pem("ec-p256"))
    server.document = {
        "keys": [{**key.as_dict(private=False), "kid": "fuzz-kid", "use": "sig", "alg": "ES256"}]
    }
    try:
        yield server.url
    finally:
        server.stop()


def _bearer(**overrides: Any) -> str:
    claims = {
        "iss": ISSUER,
        "sub": "acme",
        "client_id": "acme",
        "aud": "crypto-api",
        "scope": "token:encrypt",
        "iat": NOW,
        "exp": NOW + 300,
        "jti": "j",
        **overrides,
    }
    return sign(
        {k: v for k, v in claims.items() if v is not _DROP},
        "ES256",
        "ec-p256",
        typ="at+jwt",
        kid="fuzz-kid",
    )


@FUZZ
@given(
    st.one_of(
        st.text(),
        st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer  "]).flatmap(
            lambda scheme: st.one_of(
                st.text(),
                structured_tokens(),
                st.just(_bearer()).flatmap(mutations),
                st.fixed_dictionaries(
                    {},
                    optional={"sub": ids, "scope": json_scalars, "exp": times, "aud": json_values},
                ).map(lambda o: _bearer(**o)),
            ).map(lambda token: scheme + token)
        ),
    )
)
def test_bearer_check_gives_a_bearer_or_a_refusal(bearer_jwks: str, authorization: str) -> None:
    """Any Authorization header value: the bearer's account, or BEARER_INVALID (401) /
    INSUFFICIENT_SCOPE (403); never a JWKS outage (the endpoint is up) nor another error."""
    checker = BearerChecker(
        bearer_jwks, issuer=ISSUER, audience="crypto-api", clock=lambda: NOW, fetcher=_FETCHER
    )
    try:
        bearer = checker.check(authorization)
    except (BearerInvalid, BearerScopeMissing):
        return
    assert bearer.account_id
    assert "token:encrypt" in bearer.scopes


#: One fetcher for every example: the JWKS is fetched once, not per example. Like the
#: Crypto API's, it fetches our own (local) JWKS, so internal addresses are allowed.
_FETCHER: Final = JwksFetcher(ttl=3600.0, min_refresh_interval=3600.0, public_only=False)


def test_a_valid_bearer_passes(bearer_jwks: str) -> None:
    """The bearer the mutations start from is valid (so they test something)."""
    checker = BearerChecker(
        bearer_jwks, issuer=ISSUER, audience="crypto-api", clock=lambda: NOW, fetcher=_FETCHER
    )
    assert checker.check(f"Bearer {_bearer()}").account_id == "acme"


def test_the_seeds_verify(verifier: Verifier, account: Account) -> None:
    """The tokens the mutations start from verify, offline and for real (JWS, customer JWE)
    and offline (Transit JWE, sealed for the local key), so the mutations test something."""
    for seed in SEEDS:
        assert verify_offline(seed, OFFLINE, now=NOW)["sub"] == "participant-42"
    for seed in SEEDS[:2]:
        assert verifier.verify(seed, account_id=account.id, campaign_id=CAMPAIGN).subject


@pytest.mark.parametrize("exp", ["1" + "0" * 400, "1e400"], ids=["int-10**400", "float-1e400"])
def test_a_bearer_that_never_expires_is_refused(bearer_jwks: str, exp: str) -> None:
    """A bearer signed by the authz key whose exp is beyond any date (JSON readers give a huge
    int, or infinity) is refused, as a bearer without a valid exp."""
    claims = {"iss": ISSUER, "sub": "acme", "aud": "crypto-api", "scope": "token:encrypt"}
    payload = json.dumps(claims)[:-1] + f', "exp": {exp}}}'
    token = joserfc_jws.serialize_compact(
        {"alg": "ES256", "typ": "at+jwt", "kid": "fuzz-kid"},
        payload,
        ECKey.import_key(pem("ec-p256", "private")),
        algorithms=["ES256"],
    )
    checker = BearerChecker(bearer_jwks, issuer=ISSUER, audience="crypto-api", clock=lambda: NOW)
    with pytest.raises(BearerInvalid):
        checker.check(f"Bearer {token}")
