"""Step 6 of DESIGN §2: every other claim problem is ``TOKEN_INVALID_CLAIMS``: ``sub`` or
``campaignId`` missing or mistyped, campaign mismatch, ``nbf``/``iat`` in the future, times
not numbers, ``iss`` not the pinned one, the account's token policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared import Account, KeyStore, TokenPolicy, Vault, Verifier, seal
from tests.support.tokens import sign
from tests.support.verification import CAMPAIGN, CLAIMS, NOW, Accounts, at_now, refused

DROP = object()  # a claim to remove (``None`` below means a JSON null)
BAD_CLAIMS: dict[str, dict[str, Any]] = {
    "exp-string": {"exp": str(NOW + 3600)},
    "exp-null": {"exp": None},
    "exp-huge-int": {"exp": 10**400},
    "iat-huge-int": {"iat": 10**400},
    "nbf-string": {"nbf": "2020-01-01"},
    "iat-bool": {"iat": True},
    "missing-sub": {"sub": DROP},
    "missing-campaign": {"campaignId": DROP},
    "null-sub": {"sub": None},
    "sub-bool": {"sub": True},
    "sub-empty": {"sub": ""},
    "sub-object": {"sub": {"id": 1}},
    "campaign-fraction": {"campaignId": 1001.5},
    "wrong-campaign": {"campaignId": "1002"},
    "wrong-campaign-number": {"campaignId": 1002},
    "nbf-future": {"nbf": NOW + 3600},
    "iat-future": {"iat": NOW + 3600},
    "profile-not-object": {"profile": "Ada Lovelace"},
    "gift-not-object": {"gift": ["prize"]},
}


@pytest.mark.parametrize("changes", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_bad_claims_are_invalid_claims(
    frozen: Verifier, accounts: Accounts, changes: dict[str, Any]
) -> None:
    """A validly signed token with a missing, mistyped or mismatched claim is refused."""
    payload = at_now()
    for name, value in changes.items():
        if value is DROP:
            del payload[name]
        else:
            payload[name] = value
    refused(frozen, sign(payload, "ES256", "ec-p256"), accounts.ec.id, CLAIMS)


@pytest.mark.parametrize(
    ("claim", "param"),
    [(1001, 1001), (1001, "1001"), ("1001", 1001), ("1001", "1001")],
    ids=["number-number", "number-string", "string-number", "string-string"],
)
def test_campaign_id_number_or_string_is_accepted(
    frozen: Verifier, accounts: Accounts, claim: str | int, param: str | int
) -> None:
    """campaignId as a number or a string matches the expected campaign given either way."""
    token = sign(at_now(campaignId=claim), "ES256", "ec-p256")
    assert frozen.verify(token, account_id=accounts.ec.id, campaign_id=param).campaign_id == "1001"


@pytest.mark.parametrize(
    "iss", [None, "https://evil.example", "x "], ids=["missing", "other", "trailing-space"]
)
def test_iss_mismatch_for_pinned_issuer_is_invalid_claims(
    make_account: Callable[..., Account], vault: Vault, iss: str | None
) -> None:
    """An account pinning ``iss`` refuses tokens without it or with another one."""
    account = make_account(issuer="x")
    verifier = Verifier(vault, clock=lambda: NOW)
    assert verifier.verify(
        sign(at_now(iss="x"), "ES256", "ec-p256"), account_id=account.id, campaign_id=CAMPAIGN
    )
    refused(verifier, sign(at_now(iss=iss), "ES256", "ec-p256"), account.id, CLAIMS)


def test_require_exp_policy_refuses_token_without_exp(
    make_account: Callable[..., Account], vault: Vault
) -> None:
    """With ``require_exp``, a token without ``exp`` is TOKEN_INVALID_CLAIMS; with one it passes."""
    account = make_account(policy=TokenPolicy(require_exp=True))
    verifier = Verifier(vault, clock=lambda: NOW)
    assert verifier.verify(
        sign(at_now(), "ES256", "ec-p256"), account_id=account.id, campaign_id=CAMPAIGN
    )
    refused(verifier, sign(at_now(exp=None), "ES256", "ec-p256"), account.id, CLAIMS)


def test_max_lifetime_policy_refuses_long_lived_token(
    make_account: Callable[..., Account], vault: Vault
) -> None:
    """With ``max_lifetime=600``, a token valid for a day is refused and one for 10 min passes."""
    account = make_account(policy=TokenPolicy(max_lifetime=600))
    verifier = Verifier(vault, clock=lambda: NOW)
    short = sign(at_now(iat=NOW, exp=NOW + 600), "ES256", "ec-p256")
    assert verifier.verify(short, account_id=account.id, campaign_id=CAMPAIGN)
    refused(
        verifier, sign(at_now(iat=NOW, exp=NOW + 86_400), "ES256", "ec-p256"), account.id, CLAIMS
    )
    refused(
        verifier, sign(at_now(iat=None, exp=NOW + 86_400), "ES256", "ec-p256"), account.id, CLAIMS
    )


def test_no_exp_by_default_never_expires(frozen: Verifier, accounts: Accounts) -> None:
    """Without ``exp`` (and no ``require_exp``) a years-old token still verifies (DESIGN §2)."""
    token = sign(at_now(exp=None, iat=NOW - 5 * 365 * 86_400), "ES256", "ec-p256")
    assert frozen.verify(token, account_id=accounts.ec.id, campaign_id=CAMPAIGN).subject


def test_invalid_claims_inside_jwe_are_invalid_claims(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """A sealed token for another campaign is TOKEN_INVALID_CLAIMS once opened and verified."""
    token = seal(
        sign(at_now(campaignId="1002"), "ES256", "ec-p256"), keystore.get(accounts.ec.id).latest
    )
    refused(frozen, token, accounts.ec.id, CLAIMS)


@pytest.mark.parametrize(
    "campaign_id", [None, "", "  ", True, 1.5], ids=["none", "empty", "blank", "bool", "float"]
)
def test_expected_campaign_must_be_given(frozen: Verifier, campaign_id: object) -> None:
    """A caller that passes no usable campaign id gets a ValueError, so a token claiming
    campaignId "None" can never match a missing configuration."""
    token = sign({**at_now(), "campaignId": str(campaign_id)}, "ES256", "ec-p256")
    with pytest.raises(ValueError, match="campaign_id"):
        frozen.verify(token, account_id="any", campaign_id=campaign_id)  # type: ignore[arg-type]
