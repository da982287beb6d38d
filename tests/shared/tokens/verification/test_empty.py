"""Step 1 of DESIGN §2: nothing, empty or whitespace only is ``TOKEN_EMPTY``."""

from __future__ import annotations

import pytest

from shared import Verifier
from tests.support.verification import EMPTY, Accounts, refused


@pytest.mark.parametrize(
    "token", [None, "", "   ", "\n\t"], ids=["none", "empty", "spaces", "newline-tab"]
)
@pytest.mark.parametrize("account", ["ec", "unknown"])
def test_no_token_is_empty(
    verifier: Verifier, accounts: Accounts, token: object, account: str
) -> None:
    """No token, or whitespace only, is TOKEN_EMPTY, whatever the account."""
    account_id = accounts.ec.id if account == "ec" else "no-such-account"
    refused(verifier, token, account_id, EMPTY)
