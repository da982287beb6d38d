"""The last row of DESIGN §2: Vault or a JWKS endpoint unreachable is ``UNKNOWN``
(retryable), and never hides a token that is bad on its face."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared import (
    Account,
    AccountStore,
    KeyStore,
    PublicKeyValidation,
    Settings,
    Vault,
    Verifier,
    seal,
)
from shared.ops.bootstrap import bootstrap
from tests.support.jwks_server import JwksServer
from tests.support.openbao import DevServer, free_port
from tests.support.tokens import claims, pem, sign
from tests.support.verification import (
    CAMPAIGN,
    EMPTY,
    FORMAT,
    UNKNOWN,
    at_now,
    jwks_account,
    refused,
)


@pytest.fixture(scope="module")
def jwks_down() -> Iterator[JwksServer]:
    """A JWKS endpoint that answers HTTP 500."""
    server = JwksServer().start()
    server.status = 500
    try:
        yield server
    finally:
        server.stop()


def test_jwks_endpoint_failing_is_unknown(
    frozen: Verifier, store: AccountStore, jwks_down: JwksServer
) -> None:
    """A JWKS endpoint answering 500 is UNKNOWN and retryable: not the token's fault."""
    account = jwks_account(store, jwks_down.url)
    token = sign(at_now(), "ES256", "ec-p256", kid="k1")
    assert "JWKS" in refused(frozen, token, account.id, UNKNOWN).detail


@pytest.fixture
def unreachable() -> Verifier:
    """A verifier whose Vault address has nothing listening."""
    settings = Settings(
        vault_addr=f"http://127.0.0.1:{free_port()}", vault_token="unused", vault_timeout=1.0
    )
    return Verifier(Vault(settings))


def test_vault_unreachable_is_unknown(unreachable: Verifier) -> None:
    """A well-formed JWS while Vault cannot be reached is UNKNOWN and retryable."""
    refused(unreachable, sign(claims(), "ES256", "ec-p256"), "acme", UNKNOWN)


@pytest.mark.parametrize(
    "token",
    ["", "a.b", sign(claims(), "ES256", "ec-p256", jku="https://evil.example/j")],
    ids=["empty", "two-parts", "jku"],
)
def test_bad_token_is_not_hidden_by_vault_outage(unreachable: Verifier, token: str) -> None:
    """UNKNOWN never hides a token that is bad on its face: form is judged without Vault."""
    refused(unreachable, token, "acme", EMPTY if not token else FORMAT)


def test_vault_down_while_decrypting_is_unknown() -> None:
    """With the account cached but Vault stopped, a valid JWE is UNKNOWN (retryable), not
    TOKEN_DECRYPTION_FAILED; a plain JWS still verifies from the cache."""
    server = DevServer().start()
    try:
        vault = Vault(Settings(vault_addr=server.addr, vault_token=server.token, vault_timeout=1.0))
        bootstrap(vault)
        AccountStore(vault).create(
            Account(
                id="acme",
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        token = sign(claims(), "ES256", "ec-p256")
        sealed = seal(token, KeyStore(vault).get("acme").latest)
        verifier = Verifier(vault)
        verifier.verify(sealed, account_id="acme", campaign_id=CAMPAIGN)
    finally:
        server.stop()
    assert verifier.verify(token, account_id="acme", campaign_id=CAMPAIGN).subject
    refused(verifier, sealed, "acme", UNKNOWN)
