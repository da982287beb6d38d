"""Step 5 of DESIGN §2: ``exp`` in the past beyond the leeway is ``TOKEN_EXPIRED``, only once
the token is authenticated."""

from __future__ import annotations

import pytest

from shared import KeyStore, Verifier, seal
from tests.support.tokens import b64, flip, replace_part, sign
from tests.support.verification import (
    CAMPAIGN,
    DECRYPTION,
    EXPIRED,
    NOW,
    SIGNATURE,
    Accounts,
    at_now,
    refused,
)


@pytest.mark.parametrize(
    ("exp", "code"),
    [(NOW - 59, None), (NOW - 60, EXPIRED), (NOW - 86_400, EXPIRED)],
    ids=["within-leeway", "at-leeway", "yesterday"],
)
def test_exp_beyond_leeway_is_expired(
    frozen: Verifier, accounts: Accounts, exp: int, code: str | None
) -> None:
    """``exp`` up to 59 s ago passes (60 s leeway); 60 s or more ago is TOKEN_EXPIRED."""
    token = sign(at_now(exp=exp, iat=NOW - 3600), "ES256", "ec-p256")
    if code is None:
        assert frozen.verify(token, account_id=accounts.ec.id, campaign_id=CAMPAIGN).subject
    else:
        refused(frozen, token, accounts.ec.id, code)


def test_expired_token_missing_sub_is_expired(frozen: Verifier, accounts: Accounts) -> None:
    """Expiry comes before the other claim checks: expired and missing ``sub`` is EXPIRED."""
    token = sign(at_now(exp=NOW - 3600, sub=None), "ES256", "ec-p256")
    refused(frozen, token, accounts.ec.id, EXPIRED)


def test_expired_token_inside_jwe_is_expired(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """A JWE that opens fine but carries an expired JWS is TOKEN_EXPIRED."""
    inner = sign(at_now(exp=NOW - 3600), "ES256", "ec-p256")
    token = seal(inner, keystore.get(accounts.ec.id).latest)
    refused(frozen, token, accounts.ec.id, EXPIRED)


def test_expired_jwe_with_bad_tag_is_decryption_failed(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """Decryption comes before claims: a tampered JWE around an expired JWS is DECRYPTION_FAILED."""
    inner = sign(at_now(exp=NOW - 3600), "ES256", "ec-p256")
    token = seal(inner, keystore.get(accounts.ec.id).latest)
    refused(frozen, replace_part(token, 4, flip(token.split(".")[4])), accounts.ec.id, DECRYPTION)


def test_forged_jws_inside_valid_jwe_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, keystore: KeyStore
) -> None:
    """Anyone can seal with the public key: the inner JWS's signature is still checked."""
    for inner in (
        sign(at_now(), "ES256", "ec-p256-other"),
        f"{b64({'alg': 'none'})}.{b64(at_now())}.",
    ):
        token = seal(inner, keystore.get(accounts.ec.id).latest)
        refused(frozen, token, accounts.ec.id, SIGNATURE)
