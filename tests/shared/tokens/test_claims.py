"""Claim rules (``shared.tokens.claims.check_claims``): DESIGN §2's TOKEN_EXPIRED and
TOKEN_INVALID_CLAIMS rows, at their edges. Pure unit tests with a fixed ``now``."""

from __future__ import annotations

from typing import Any

import pytest

from shared.accounts.document import Account, PublicKeyValidation, TokenPolicy
from shared.errors import TokenExpired, TokenInvalidClaims
from shared.tokens.claims import OBJECT_CLAIMS, check_claims, claim_id
from tests.support.tokens import pem

NOW = 1_800_000_000
LEEWAY = 60  # the default policy's
CAMPAIGN = "1001"


def account(*, issuer: str | None = None, **policy: Any) -> Account:
    """An account document (never stored: the claim rules only read it)."""
    return Account(
        id="acme",
        validation=PublicKeyValidation(algorithms=("ES256",), public_key_pem=pem("ec-p256")),
        issuer=issuer,
        policy=TokenPolicy(**policy),
    )


def payload(**changes: Any) -> dict[str, Any]:
    """Valid claims at NOW; a keyword set to ``...`` removes that claim."""
    base: dict[str, Any] = {
        "sub": "participant-42",
        "campaignId": CAMPAIGN,
        "iat": NOW - 10,
        "exp": NOW + 3600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def check(
    claims: dict[str, Any], acct: Account | None = None, campaign: str | int = CAMPAIGN
) -> tuple[str, str]:
    return check_claims(claims, account=acct or account(), campaign_id=campaign, now=NOW)


def invalid(
    claims: dict[str, Any], acct: Account | None = None, campaign: str | int = CAMPAIGN
) -> str:
    """Expect TOKEN_INVALID_CLAIMS; return the detail."""
    with pytest.raises(TokenInvalidClaims) as info:
        check(claims, acct, campaign)
    assert type(info.value) is TokenInvalidClaims
    assert info.value.code == "TOKEN_INVALID_CLAIMS"
    return info.value.detail


def expired(claims: dict[str, Any], acct: Account | None = None) -> None:
    with pytest.raises(TokenExpired) as info:
        check(claims, acct)
    assert type(info.value) is TokenExpired
    assert info.value.code == "TOKEN_EXPIRED"


# -- accepted -------------------------------------------------------------------------------


def test_minimal_claims_pass_and_return_sub_and_campaign() -> None:
    """``sub`` and ``campaignId`` alone suffice: exp, iat, nbf and iss are optional."""
    assert check({"sub": "p", "campaignId": CAMPAIGN}) == ("p", CAMPAIGN)


@pytest.mark.parametrize(
    ("claim", "expected", "param"),
    [
        ("1001", "1001", "1001"),
        (1001, "1001", "1001"),
        ("1001", "1001", 1001),
        (1001, "1001", 1001),
        (1001.0, "1001", "1001"),
    ],
    ids=["str-str", "int-str", "str-int", "int-int", "integral-float"],
)
def test_campaign_id_number_and_string_compare_as_strings(
    claim: object, expected: str, param: str | int
) -> None:
    """campaignId may be a number or a string on either side; they compare as strings."""
    assert check(payload(campaignId=claim), campaign=param)[1] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("participant-42", "participant-42"), (42, "42"), (42.0, "42"), (0, "0"), (-7, "-7"),
     (10**30, str(10**30))],
    ids=["string", "int", "integral-float", "zero", "negative", "big-int"],
)  # fmt: skip
def test_subject_is_returned_as_a_string(value: object, expected: str) -> None:
    """A numeric ``sub`` is returned as its decimal string."""
    assert check(payload(sub=value))[0] == expected


def test_token_without_exp_never_expires_by_default() -> None:
    """Without ``exp`` and without ``require_exp``, a token is accepted however old its iat."""
    assert check(payload(exp=..., iat=NOW - 10 * 365 * 86_400))[0] == "participant-42"


def test_fractional_numeric_dates_are_accepted() -> None:
    """NumericDate may be fractional (RFC 7519 §2)."""
    check(payload(exp=NOW + 0.5, iat=NOW - 0.5, nbf=NOW - 0.25))


def test_unpinned_issuer_accepts_any_iss() -> None:
    """When the account pins no issuer, ``iss`` is not checked."""
    check(payload(iss="whoever"))


def test_pinned_issuer_accepts_exact_iss() -> None:
    """When the account pins an issuer, that exact ``iss`` passes."""
    check(payload(iss="https://acme.example"), account(issuer="https://acme.example"))


@pytest.mark.parametrize("name", OBJECT_CLAIMS)
def test_object_claims_accept_objects(name: str) -> None:
    """profile, form, optin, limit, gift and custom pass when they are JSON objects."""
    check(payload(**{name: {"k": "v"}}))


# -- exp and leeway --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp", "ok"),
    [
        (NOW + 1, True),
        (NOW, True),
        (NOW - LEEWAY + 1, True),
        (NOW - LEEWAY, False),
        (NOW - LEEWAY - 1, False),
        (0, False),
    ],
    ids=["future", "now", "inside-leeway", "leeway-boundary", "past-leeway", "epoch"],
)
def test_exp_is_enforced_with_leeway(exp: int, ok: bool) -> None:
    """``exp`` up to (not including) ``leeway`` seconds ago passes; older is TOKEN_EXPIRED."""
    claims = payload(exp=exp, iat=...)
    if ok:
        check(claims)
    else:
        expired(claims)


def test_zero_leeway_expires_at_exp() -> None:
    """With ``leeway=0`` a token is expired from the second of its ``exp`` on."""
    expired(payload(exp=NOW, iat=...), account(leeway=0))
    check(payload(exp=NOW + 1, iat=...), account(leeway=0))


def test_long_leeway_accepts_older_tokens() -> None:
    """An account's larger leeway keeps accepting tokens the default would call expired."""
    claims = payload(exp=NOW - 600, iat=...)
    expired(claims)
    check(claims, account(leeway=900))


# -- nbf / iat ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("nbf", NOW - 1, True),
        ("nbf", NOW + LEEWAY, True),
        ("nbf", NOW + LEEWAY + 1, False),
        ("nbf", NOW + 86_400, False),
        ("iat", NOW + LEEWAY, True),
        ("iat", NOW + LEEWAY + 1, False),
        ("iat", NOW + 86_400, False),
    ],
    ids=["nbf-past", "nbf-at-leeway", "nbf-past-leeway", "nbf-tomorrow", "iat-at-leeway",
         "iat-past-leeway", "iat-tomorrow"],
)  # fmt: skip
def test_nbf_and_iat_in_the_future_are_invalid_claims(name: str, value: int, ok: bool) -> None:
    """``nbf``/``iat`` later than now plus the leeway are TOKEN_INVALID_CLAIMS."""
    claims = payload(**{name: value}, exp=NOW + 86_400 * 2)
    if ok:
        check(claims)
    else:
        assert name in invalid(claims)


# -- NumericDate types -------------------------------------------------------------------------

NOT_NUMBERS = {
    "string": str(NOW + 3600),
    "true": True,
    "false": False,
    "null": None,
    "list": [NOW + 3600],
    "object": {"t": NOW + 3600},
    "infinity": float("inf"),
    "nan": float("nan"),
    "int-beyond-float": 10**400,
}


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", NOT_NUMBERS.values(), ids=NOT_NUMBERS.keys())
def test_numeric_date_that_is_not_a_number_is_invalid_claims(name: str, value: object) -> None:
    """``exp``/``nbf``/``iat`` present but not a finite number (null included) are
    TOKEN_INVALID_CLAIMS, never treated as absent."""
    assert name in invalid(payload(**{name: value}))


# -- require_exp and max_lifetime --------------------------------------------------------------


def test_require_exp_refuses_token_without_exp() -> None:
    """An account whose policy requires ``exp`` refuses a token without one."""
    assert "exp" in invalid(payload(exp=...), account(require_exp=True))
    check(payload(), account(require_exp=True))


@pytest.mark.parametrize(
    ("iat", "exp", "ok"),
    [
        (NOW, NOW + 300, True),
        (NOW, NOW + 300 + LEEWAY, True),
        (NOW, NOW + 300 + LEEWAY + 1, False),
        (..., NOW + 300, True),
        (..., NOW + 3600, False),
        (NOW - 86_400, NOW + 10, False),
    ],
    ids=["at-max", "at-max-plus-leeway", "over", "no-iat-within", "no-iat-over",
         "old-iat-long-lived"],
)  # fmt: skip
def test_max_lifetime_bounds_exp_minus_iat(iat: object, exp: int, ok: bool) -> None:
    """With ``max_lifetime``, ``exp - iat`` (or ``exp - now``) may exceed it by the leeway only."""
    acct = account(max_lifetime=300)
    claims = payload(iat=iat, exp=exp)
    if ok:
        check(claims, acct)
    else:
        assert "lifetime" in invalid(claims, acct)


def test_max_lifetime_does_not_require_exp() -> None:
    """``max_lifetime`` alone does not make ``exp`` mandatory (that is ``require_exp``)."""
    check(payload(exp=...), account(max_lifetime=300))


# -- sub / campaignId ------------------------------------------------------------------------

BAD_IDS = {
    "missing": ...,
    "null": None,
    "empty": "",
    "blank": "   ",
    "true": True,
    "false": False,
    "fraction": 1.5,
    "infinity": float("inf"),
    "list": ["participant-42"],
    "object": {"id": "participant-42"},
}


@pytest.mark.parametrize("name", ["sub", "campaignId"])
@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_bad_identifier_claim_is_invalid_claims(name: str, value: object) -> None:
    """``sub``/``campaignId`` missing, blank, boolean, fractional or structured are refused."""
    assert name in invalid(payload(**{name: value}))


@pytest.mark.parametrize(
    ("claim", "param"),
    [("1002", "1001"), (1002, 1001), ("01001", "1001"), (" 1001", "1001"), ("1001", "01001"),
     ("1001.0", "1001")],
    ids=["other-string", "other-number", "leading-zero", "leading-space", "param-leading-zero",
         "decimal-string"],
)  # fmt: skip
def test_campaign_mismatch_is_invalid_claims(claim: object, param: str | int) -> None:
    """A token for another campaign (compared as exact strings) is TOKEN_INVALID_CLAIMS."""
    assert "campaign" in invalid(payload(campaignId=claim), campaign=param)


# -- iss ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [..., None, "https://evil.example", "https://acme.example/", "HTTPS://ACME.EXAMPLE", 1,
     ["https://acme.example"]],
    ids=["missing", "null", "other", "trailing-slash", "other-case", "number", "list"],
)  # fmt: skip
def test_wrong_iss_for_pinned_issuer_is_invalid_claims(iss: object) -> None:
    """When the account pins an issuer, any other ``iss`` (or none) is TOKEN_INVALID_CLAIMS."""
    assert "iss" in invalid(payload(iss=iss), account(issuer="https://acme.example"))


# -- object claims -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", OBJECT_CLAIMS)
@pytest.mark.parametrize(
    "value", ["text", ["a"], 1, True, None], ids=["string", "list", "number", "bool", "null"]
)
def test_object_claim_that_is_not_an_object_is_invalid_claims(name: str, value: object) -> None:
    """profile, form, optin, limit, gift and custom must be JSON objects when present."""
    assert name in invalid(payload(**{name: value}))


# -- order -------------------------------------------------------------------------------------

EXPIRED_AND = {
    "missing-sub": {"sub": ...},
    "missing-campaign": {"campaignId": ...},
    "wrong-campaign": {"campaignId": "999"},
    "nbf-future": {"nbf": NOW + 86_400},
    "nbf-not-number": {"nbf": "soon"},
    "iat-not-number": {"iat": "then"},
    "bad-profile": {"profile": "x"},
}


@pytest.mark.parametrize("changes", EXPIRED_AND.values(), ids=EXPIRED_AND.keys())
def test_expiry_wins_over_other_claim_problems(changes: dict[str, Any]) -> None:
    """An expired token is TOKEN_EXPIRED whatever else is wrong with its claims."""
    expired(payload(exp=NOW - 3600, **changes))


def test_expiry_wins_over_pinned_issuer_mismatch() -> None:
    """An expired token with a wrong ``iss`` is TOKEN_EXPIRED (exp is checked first)."""
    expired(payload(exp=NOW - 3600, iss="https://evil.example"), account(issuer="x"))


def test_exp_that_is_not_a_number_is_invalid_claims_not_expired() -> None:
    """A string ``exp`` is TOKEN_INVALID_CLAIMS even if its value lies in the past."""
    invalid(payload(exp=str(NOW - 3600)))


# -- claim_id ----------------------------------------------------------------------------------


def test_claim_id_names_the_claim_in_its_detail() -> None:
    """``claim_id`` says which claim is missing, for the customer's developer."""
    with pytest.raises(TokenInvalidClaims, match="'campaignId' is required"):
        claim_id(None, "campaignId")
