"""Step 4 of DESIGN §2: ``TOKEN_INVALID_SIGNATURE``: ``alg`` outside the account's
allow-list (``none`` included), an unknown account or JWKS ``kid``, a bad signature; it wins
over every claim problem."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from shared import Account, AccountStore, KeyStore, PublicKeyValidation, Vault, Verifier, seal
from tests.support.jwks_server import JwksServer
from tests.support.tokens import b64, claims, flip, private_key, sign, unb64
from tests.support.verification import (
    CAMPAIGN,
    DECRYPTION,
    NOW,
    SIGNATURE,
    Accounts,
    at_now,
    hs_sign,
    jwks_account,
    refused,
    truncate,
)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("sig", ["", "AAAA"], ids=["no-signature", "junk-signature"])
@pytest.mark.parametrize("account", ["ec", "hmac"])
def test_alg_none_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, alg: str, sig: str, account: str
) -> None:
    """An unsigned token (``alg: none`` in any case) is TOKEN_INVALID_SIGNATURE."""
    token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(at_now())}.{sig}"
    refused(frozen, token, getattr(accounts, account).id, SIGNATURE)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("stem", ["rsa-2048", "ec-p256"])
@pytest.mark.parametrize("spelling", ["as-stored", "stripped"])
def test_hmac_with_public_key_pem_as_secret_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, alg: str, stem: str, spelling: str
) -> None:
    """Algorithm confusion: HS* keyed with the account's public PEM is refused."""
    account = accounts.rsa if stem == "rsa-2048" else accounts.ec
    assert isinstance(account.validation, PublicKeyValidation)
    secret = account.validation.public_key_pem
    secret = secret.strip() if spelling == "stripped" else secret
    token = hs_sign({"alg": alg, "typ": "JWT"}, at_now(), secret.encode(), alg)
    assert "not allowed" in refused(frozen, token, account.id, SIGNATURE).detail


def _jws_tamper(token: str, how: str) -> str:
    h, p, s = token.split(".")
    return {
        "flipped": f"{h}.{p}.{flip(s)}",
        "truncated": f"{h}.{p}.{truncate(s, len(unb64(s)) - 1)}",
        "halved": f"{h}.{p}.{truncate(s, len(unb64(s)) // 2)}",
        "empty": f"{h}.{p}.",
        "campaign-changed": f"{h}.{b64(at_now(campaignId='9999'))}.{s}",
        "header-changed": f"{b64({**json.loads(unb64(h)), 'kid': 'x'})}.{p}.{s}",
    }[how]


SIGNERS = {
    "ec": lambda a: sign(at_now(), "ES256", "ec-p256"),
    "rsa": lambda a: sign(at_now(), "RS256", "rsa-2048"),
    "hmac": lambda a: sign(at_now(), "HS256", a.secret),
}


@pytest.mark.parametrize(
    "how", ["flipped", "truncated", "halved", "empty", "campaign-changed", "header-changed"]
)
@pytest.mark.parametrize("account", SIGNERS.keys())
def test_tampered_jws_is_invalid_signature(
    frozen: Verifier, accounts: Accounts, how: str, account: str
) -> None:
    """A bit flipped or cut in the signature, or an edited header/payload, is refused."""
    token = SIGNERS[account](accounts)
    frozen.verify(token, account_id=getattr(accounts, account).id, campaign_id=CAMPAIGN)
    refused(frozen, _jws_tamper(token, how), getattr(accounts, account).id, SIGNATURE)


def test_expired_token_with_bad_signature_is_invalid_signature(
    frozen: Verifier, accounts: Accounts
) -> None:
    """Signature comes before claims: an expired, forged token says nothing about its expiry."""
    token = sign(at_now(exp=NOW - 86_400, iat=NOW - 90_000), "ES256", "ec-p256-other")
    refused(frozen, token, accounts.ec.id, SIGNATURE)


def test_bad_claims_with_bad_signature_is_invalid_signature(
    frozen: Verifier, accounts: Accounts
) -> None:
    """A forged token missing ``sub`` for another campaign is TOKEN_INVALID_SIGNATURE."""
    token = sign(at_now(sub=None, campaignId="9999"), "ES256", "ec-p256-other")
    refused(frozen, token, accounts.ec.id, SIGNATURE)


MISSING_ACCOUNTS = ["no-such-account", "Bad Id", "", "x" * 64, "../accounts/x", "a/b", "acme\n"]


@pytest.mark.parametrize(
    "account_id",
    MISSING_ACCOUNTS,
    ids=["unknown", "malformed", "empty", "too-long", "traversal", "slash", "newline"],
)
def test_unknown_account_jws_is_invalid_signature(frozen: Verifier, account_id: str) -> None:
    """A JWS for an account that does not exist (or cannot) is TOKEN_INVALID_SIGNATURE."""
    refused(frozen, sign(at_now(), "ES256", "ec-p256"), account_id, SIGNATURE)


@pytest.mark.parametrize(
    "account_id",
    MISSING_ACCOUNTS,
    ids=["unknown", "malformed", "empty", "too-long", "traversal", "slash", "newline"],
)
def test_unknown_account_jwe_is_decryption_failed(
    frozen: Verifier, sealed: str, account_id: str
) -> None:
    """A JWE for an account that does not exist (or cannot) is TOKEN_DECRYPTION_FAILED."""
    refused(frozen, sealed, account_id, DECRYPTION)


def test_disabled_account_refuses_jws_and_jwe(
    make_account: Callable[..., Account], store: AccountStore, keystore: KeyStore, vault: Vault
) -> None:
    """Once disabled, an account's valid JWS is TOKEN_INVALID_SIGNATURE and its valid JWE
    TOKEN_DECRYPTION_FAILED."""
    account = make_account()
    token = sign(claims(), "ES256", "ec-p256")
    sealed = seal(token, keystore.get(account.id).latest)
    Verifier(vault).verify(sealed, account_id=account.id, campaign_id=CAMPAIGN)
    store.disable(account.id)
    fresh = Verifier(vault)  # a new cache: disabling is picked up within the cache TTL
    refused(fresh, token, account.id, SIGNATURE)
    refused(fresh, sealed, account.id, DECRYPTION)


@pytest.fixture(scope="module")
def jwks_ok() -> Iterator[JwksServer]:
    """A JWKS endpoint publishing ec-p256 as ``k1`` (module-scoped: stopping costs 0.5 s)."""
    server = JwksServer().start()
    server.document = {"keys": [{**private_key("ec-p256").as_dict(private=False), "kid": "k1"}]}
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "header", [{"kid": "k2"}, {}, {"kid": ""}], ids=["unknown-kid", "no-kid", "empty-kid"]
)
def test_jwks_kid_not_found_is_invalid_signature(
    frozen: Verifier, store: AccountStore, jwks_ok: JwksServer, header: dict[str, str]
) -> None:
    """For a JWKS account, a token whose kid the JWKS lacks (or without kid) is refused."""
    account = jwks_account(store, jwks_ok.url)
    good = sign(at_now(), "ES256", "ec-p256", kid="k1")
    assert frozen.verify(good, account_id=account.id, campaign_id=CAMPAIGN).subject
    refused(frozen, sign(at_now(), "ES256", "ec-p256", **header), account.id, SIGNATURE)
