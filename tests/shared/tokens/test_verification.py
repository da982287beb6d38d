"""The async form and the module-level functions behave exactly like Verifier.verify."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import shared
import shared.tokens.verification
from shared import Account, Settings, TokenExpired, Verifier
from tests.support.tokens import claims, sign


def test_verify_async_matches_sync(
    make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """verify_async returns the same result as verify, and raises the same coded errors."""
    account = make_account()
    token = sign(claims(), "ES256", "ec-p256")
    result = asyncio.run(verifier.verify_async(token, account_id=account.id, campaign_id="1001"))
    assert result == verifier.verify(token, account_id=account.id, campaign_id="1001")
    expired = sign(claims(exp=1, iat=None), "ES256", "ec-p256")
    with pytest.raises(TokenExpired) as info:
        asyncio.run(verifier.verify_async(expired, account_id=account.id, campaign_id="1001"))
    assert info.value.code == "TOKEN_EXPIRED"


def test_module_level_verify_reads_the_environment_on_first_use(
    make_account: Callable[..., Account], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """shared.verify / shared.verify_async build one verifier from VAULT_* on first call."""
    monkeypatch.setattr(shared.tokens.verification, "_default", None)
    monkeypatch.setenv("VAULT_ADDR", settings.vault_addr)
    monkeypatch.setenv("VAULT_TOKEN", settings.vault_token or "")
    account = make_account()
    token = sign(claims(), "ES256", "ec-p256")
    assert shared.verify(token, account_id=account.id, campaign_id=1001).subject == "participant-42"
    first = shared.tokens.verification._default
    assert first is not None
    result = asyncio.run(shared.verify_async(token, account_id=account.id, campaign_id="1001"))
    assert result.subject == "participant-42"
    assert shared.tokens.verification._default is first
