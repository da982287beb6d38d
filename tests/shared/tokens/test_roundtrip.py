"""Happy paths: a token signed by the customer verifies, plain and sealed."""

from __future__ import annotations

from collections.abc import Callable

from shared import Account, KeyStore, Sealer, Settings, Verifier
from tests.support.tokens import claims, sign


def test_jws_verifies_and_returns_typed_result(
    make_account: Callable[..., Account], verifier: Verifier
) -> None:
    """A JWS signed with the account's EC key verifies and exposes sub, profile and custom."""
    account = make_account()
    token = sign(claims(profile={"firstname": "Ada"}, custom={"tier": "gold"}), "ES256", "ec-p256")
    result = verifier.verify(token, account_id=account.id, campaign_id="1001")
    assert result.subject == "participant-42"
    assert result.campaign_id == "1001"
    assert result.profile == {"firstname": "Ada"}
    assert result.custom == {"tier": "gold"}
    assert result.encrypted is False
    assert result.key_version is None
    assert result.algorithm == "ES256"


def test_sealed_jwe_verifies_with_key_version(
    make_account: Callable[..., Account],
    verifier: Verifier,
    keystore: KeyStore,
    settings: Settings,
) -> None:
    """A JWS sealed into a JWE opens through Transit and reports key version 1."""
    account = make_account()
    jwe = Sealer(keystore, settings).seal(account.id, sign(claims(), "ES256", "ec-p256"))
    assert jwe.count(".") == 4
    result = verifier.verify(jwe, account_id=account.id, campaign_id=1001)
    assert result.encrypted is True
    assert result.key_version == 1
    assert result.subject == "participant-42"
