"""Acceptance: rotating account keys never breaks tokens already handed out; retiring does."""

from __future__ import annotations

import json
from collections.abc import Callable

import msgspec
import pytest

from shared import (
    Account,
    KeyStore,
    Limits,
    Sealer,
    Settings,
    TokenDecryptionFailed,
    TokenInvalidFormat,
    Verifier,
    seal,
)
from tests.support.tokens import claims, sign, unb64


def _kid(jwe: str) -> str:
    return str(json.loads(unb64(jwe.split(".", maxsplit=1)[0]))["kid"])


def test_rotation_then_retirement(
    make_account: Callable[..., Account],
    keystore: KeyStore,
    settings: Settings,
    verifier: Verifier,
) -> None:
    """A v1 JWE verifies after two rotations; new seals use v3; retiring below 2 refuses v1 only."""
    account = make_account()
    jws = sign(claims(), "ES256", "ec-p256")
    v1 = Sealer(keystore, settings).seal(account.id, jws)
    assert _kid(v1) == f"{account.id}/1"

    keystore.rotate(account.id)
    keystore.rotate(account.id)

    old = verifier.verify(v1, account_id=account.id, campaign_id="1001")
    assert (old.encrypted, old.key_version, old.subject) == (True, 1, "participant-42")

    v3 = Sealer(keystore, settings).seal(account.id, jws)
    assert _kid(v3) == f"{account.id}/3"
    assert _kid(seal(jws, keystore.get(account.id).latest)) == f"{account.id}/3"
    assert verifier.verify(v3, account_id=account.id, campaign_id="1001").key_version == 3

    keystore.retire(account.id, below=2)

    with pytest.raises(TokenDecryptionFailed) as caught:
        verifier.verify(v1, account_id=account.id, campaign_id="1001")
    assert caught.value.code == "TOKEN_DECRYPTION_FAILED"
    assert caught.value.retryable is False
    new = verifier.verify(v3, account_id=account.id, campaign_id="1001")
    assert (new.encrypted, new.key_version) == (True, 3)


def test_every_live_version_opens_its_own_tokens(
    make_account: Callable[..., Account], keystore: KeyStore, verifier: Verifier
) -> None:
    """Tokens sealed under each version stay valid while that version is not retired."""
    account = make_account()
    jws = sign(claims(), "ES256", "ec-p256")
    sealed = {1: seal(jws, keystore.get(account.id).latest)}
    for version in (2, 3):
        sealed[version] = seal(jws, keystore.rotate(account.id).latest)
    for version, jwe in sealed.items():
        result = verifier.verify(jwe, account_id=account.id, campaign_id="1001")
        assert result.key_version == version
    keystore.retire(account.id, below=3)
    for version in (1, 2):
        with pytest.raises(TokenDecryptionFailed):
            verifier.verify(sealed[version], account_id=account.id, campaign_id="1001")
    assert verifier.verify(sealed[3], account_id=account.id, campaign_id="1001").key_version == 3


def test_kid_naming_a_version_that_does_not_exist_yet(
    make_account: Callable[..., Account], keystore: KeyStore, verifier: Verifier
) -> None:
    """A JWE claiming a key version the account does not have is a decryption failure."""
    account = make_account()
    jws = sign(claims(), "ES256", "ec-p256")
    key = keystore.get(account.id).latest
    forged = seal(jws, type(key)(account_id=account.id, version=7, pem=key.pem))
    assert _kid(forged) == f"{account.id}/7"
    with pytest.raises(TokenDecryptionFailed) as caught:
        verifier.verify(forged, account_id=account.id, campaign_id="1001")
    assert caught.value.code == "TOKEN_DECRYPTION_FAILED"


def test_cached_sealer_picks_up_rotation_after_its_ttl(
    make_account: Callable[..., Account], keystore: KeyStore, settings: Settings
) -> None:
    """A Sealer with cache TTL 0 seals with the new latest version right after a rotation."""
    account = make_account()
    sealer = Sealer(keystore, msgspec.structs.replace(settings, cache_ttl=0.0))
    jws = sign(claims(), "ES256", "ec-p256")
    assert _kid(sealer.seal(account.id, jws)) == f"{account.id}/1"
    keystore.rotate(account.id)
    assert _kid(sealer.seal(account.id, jws)) == f"{account.id}/2"


def test_seal_refuses_a_jws_whose_jwe_would_be_too_large(
    make_account: Callable[..., Account], keystore: KeyStore
) -> None:
    """A JWS that fits the limit but whose JWE would not is refused at sealing time, with
    TOKEN_INVALID_FORMAT, instead of producing a JWE every verifier refuses."""
    account = make_account()
    big = sign(claims(custom={"blob": "x" * 11_500}), "ES256", "ec-p256")
    assert len(big) < Limits().max_token_bytes
    with pytest.raises(TokenInvalidFormat) as info:
        seal(big, keystore.get(account.id).latest)
    assert info.value.code == "TOKEN_INVALID_FORMAT"
    assert "token limit" in info.value.detail
