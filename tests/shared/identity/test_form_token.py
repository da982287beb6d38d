"""Form tokens (issue/open, refusals, rotation) and the form keys kept in a real Vault."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest

from shared import Settings, Vault
from shared.errors import ConfigurationError
from shared.identity import (
    FORM_TTL,
    FormClaims,
    FormInvalid,
    FormKeys,
    FormTokens,
    ensure_form_keys,
    load_form_keys,
)
from shared.identity.form_keys import FORM_KEYS_PATH
from tests.support.openbao import DevServer

NOW = 1_800_000_000.0


def _keys(*kids: str) -> FormKeys:
    return FormKeys(tuple((kid, secrets.token_bytes(32)) for kid in kids))


def _issue(forms: FormTokens, **overrides: Any) -> tuple[str, FormClaims]:
    options: dict[str, Any] = {
        "account": "acct-1",
        "campaign": "1001",
        "subject": "p-1",
        "now": NOW,
        "limit": 2,
        "prefilled": {"email": "ada@example.com", "optin": True},
    }
    options.update(overrides)
    return forms.issue(**options)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_round_trip() -> None:
    """A token opens, for its account and campaign, to the claims it was issued with."""
    forms = FormTokens(_keys("1"))
    token, claims = _issue(forms)
    opened = forms.open(token, account="acct-1", campaign="1001", now=NOW + 10)
    assert opened == claims
    assert opened.sub == "p-1"
    assert opened.nb == 2
    assert opened.prefill == {"email": "ada@example.com", "optin": True}
    assert opened.exp == int(NOW) + FORM_TTL


def test_prefill_is_not_readable_in_the_token() -> None:
    """The token is encrypted: prefilled values do not appear in it."""
    forms = FormTokens(_keys("1"))
    token, _ = _issue(forms)
    assert token.count(".") == 4
    assert "ada@example.com" not in token
    for segment in token.split("."):
        padded = segment + "=" * (-len(segment) % 4)
        assert b"ada@example.com" not in base64.urlsafe_b64decode(padded)


def test_each_token_has_its_own_jti() -> None:
    """Two tokens for the same identification carry different jtis."""
    forms = FormTokens(_keys("1"))
    assert _issue(forms)[1].jti != _issue(forms)[1].jti


@pytest.mark.parametrize("segment", [1, 2, 3, 4])
def test_tampered_token_is_invalid(segment: int) -> None:
    """Changing the key, IV, ciphertext or tag segment makes the token FormInvalid."""
    forms = FormTokens(_keys("1"))
    token, _ = _issue(forms)
    parts = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[segment] + "=" * (-len(parts[segment]) % 4)))
    if raw:
        raw[0] ^= 1
    else:
        raw = bytearray(b"x")  # dir has no encrypted key: adding one is tampering too
    parts[segment] = _b64(bytes(raw))
    with pytest.raises(FormInvalid):
        forms.open(".".join(parts), account="acct-1", campaign="1001", now=NOW)


def test_tampered_header_is_invalid() -> None:
    """A header rewritten (even to a well-formed one) breaks authentication: FormInvalid."""
    forms = FormTokens(_keys("1"))
    token, _ = _issue(forms)
    parts = token.split(".")
    parts[0] = _b64(b'{"alg":"dir","enc":"A256GCM","kid":"1","x":1}')
    with pytest.raises(FormInvalid):
        forms.open(".".join(parts), account="acct-1", campaign="1001", now=NOW)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c.d.e", "x" * (64 * 1024 + 1)])
def test_malformed_tokens_are_invalid(token: str) -> None:
    """Empty, oversized or malformed tokens are FormInvalid."""
    with pytest.raises(FormInvalid):
        FormTokens(_keys("1")).open(token, account="acct-1", campaign="1001", now=NOW)


def test_token_from_other_keys_is_invalid() -> None:
    """A token made with another key under the same kid is FormInvalid."""
    token, _ = _issue(FormTokens(_keys("1")))
    with pytest.raises(FormInvalid):
        FormTokens(_keys("1")).open(token, account="acct-1", campaign="1001", now=NOW)


@pytest.mark.parametrize(("account", "campaign"), [("acct-2", "1001"), ("acct-1", "1002")])
def test_other_account_or_campaign_is_invalid(account: str, campaign: str) -> None:
    """A token opened for another account or campaign is FormInvalid."""
    forms = FormTokens(_keys("1"))
    token, _ = _issue(forms)
    with pytest.raises(FormInvalid, match="another campaign"):
        forms.open(token, account=account, campaign=campaign, now=NOW)


def test_expired_token_is_invalid() -> None:
    """At and after exp the token is FormInvalid; a second before, it opens."""
    forms = FormTokens(_keys("1"))
    token, claims = _issue(forms)
    forms.open(token, account="acct-1", campaign="1001", now=claims.exp - 1)
    for now in (claims.exp, claims.exp + 3600):
        with pytest.raises(FormInvalid, match="expired"):
            forms.open(token, account="acct-1", campaign="1001", now=now)


def test_rotation_keeps_old_forms_usable() -> None:
    """A token made with the old key opens with a list that has a new key first, and new
    tokens are made with the new key."""
    old = ("1", secrets.token_bytes(32))
    new = ("2", secrets.token_bytes(32))
    before = FormTokens(FormKeys((old,)))
    after = FormTokens(FormKeys((new, old)))
    token, claims = _issue(before)
    assert after.open(token, account="acct-1", campaign="1001", now=NOW) == claims
    fresh, _ = _issue(after)
    with pytest.raises(FormInvalid):
        before.open(fresh, account="acct-1", campaign="1001", now=NOW)


def test_unknown_kid_is_refused() -> None:
    """A token whose kid is not among the keys is FormInvalid."""
    token, _ = _issue(FormTokens(_keys("old")))
    with pytest.raises(FormInvalid):
        FormTokens(_keys("new")).open(token, account="acct-1", campaign="1001", now=NOW)


@pytest.mark.parametrize("keys", [(), (("1", b"short"),), (("1", b"x" * 32), ("2", b"x" * 31))])
def test_form_keys_need_32_byte_keys(keys: tuple[tuple[str, bytes], ...]) -> None:
    """FormKeys refuses no keys at all or a key that is not 32 bytes."""
    with pytest.raises(ValueError, match="32 bytes"):
        FormKeys(keys)


def test_ensure_form_keys_creates_once_and_load_reads_them(private_bao: DevServer) -> None:
    """On a Vault without form keys, ensure_form_keys creates them (True) then leaves them
    (False), and load_form_keys reads the same working keys back."""
    vault = Vault(Settings(vault_addr=private_bao.addr, vault_token=private_bao.token))
    with pytest.raises(ConfigurationError, match="no player form keys"):
        load_form_keys(vault)
    assert ensure_form_keys(vault) is True
    first = load_form_keys(vault)
    assert ensure_form_keys(vault) is False
    assert load_form_keys(vault) == first
    assert len(first.keys) == 1
    assert len(first.keys[0][1]) == 32
    token, claims = _issue(FormTokens(first))
    opened = FormTokens(load_form_keys(vault)).open(
        token, account="acct-1", campaign="1001", now=NOW
    )
    assert opened == claims


def test_malformed_form_keys_are_a_configuration_error(private_bao: DevServer) -> None:
    """Form keys stored in the wrong shape raise ConfigurationError, not a crash."""
    vault = Vault(Settings(vault_addr=private_bao.addr, vault_token=private_bao.token))
    vault.kv_write(FORM_KEYS_PATH, {"keys": [{"kid": "1", "key": "not base64!"}]})
    with pytest.raises(ConfigurationError, match="malformed"):
        load_form_keys(vault)
    vault.kv_write(FORM_KEYS_PATH, {"keys": [{"kid": "1", "key": "c2hvcnQ="}]})
    with pytest.raises(ConfigurationError, match="malformed"):
        load_form_keys(vault)
    assert ensure_form_keys(vault) is False  # keys exist, even broken ones: left alone


def test_ensure_form_keys_is_idempotent_on_the_session_vault(vault: Vault) -> None:
    """On the shared Vault, ensure_form_keys leaves existing keys as they are."""
    ensure_form_keys(vault)
    keys = load_form_keys(vault)
    assert ensure_form_keys(vault) is False
    assert load_form_keys(vault) == keys
