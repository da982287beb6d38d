"""DESIGN §2's error-code table itself: one class per code, and the untampered tokens every
other test of this folder breaks verify.

``Verifier.verify`` runs against a real OpenBao in this folder: each file is one step of the
table (checks run in its order and the first failure wins, so several tests combine two
faults and expect the earlier step's code)."""

from __future__ import annotations

from shared import TokenError, Verifier
from tests.support.verification import CAMPAIGN, CODES, Accounts


def test_contract_codes_match_the_error_tree() -> None:
    """The library's token errors carry exactly DESIGN §2's codes, one class per code."""
    assert {cls.code: cls for cls in TokenError.__subclasses__()} == CODES


def test_valid_tokens_pass(frozen: Verifier, accounts: Accounts, ec_jws: str, sealed: str) -> None:
    """Baseline for every test below: the untampered JWS and JWE verify."""
    assert frozen.verify(ec_jws, account_id=accounts.ec.id, campaign_id=CAMPAIGN).encrypted is False
    result = frozen.verify(sealed, account_id=accounts.ec.id, campaign_id=CAMPAIGN)
    assert result.encrypted is True
    assert result.key_version == 1
