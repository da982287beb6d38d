"""The Vault facade maps every failure to a distinct error, against a real OpenBao (and a
stand-in HTTP server only for 500s a healthy OpenBao will not produce on demand)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import hvac
import pytest

from shared import (
    Settings,
    Vault,
    VaultForbidden,
    VaultNotFound,
    VaultSealed,
    VaultUnavailable,
)
from shared.ops.bootstrap import bootstrap
from shared.vault import TransitDecryptRefused
from tests.support.faulty_servers import LosesAnswers
from tests.support.jwks_server import JwksServer
from tests.support.openbao import DevServer, free_port

# What OpenBao 2.7 answers for an RSA ciphertext that does not decrypt (seen on the session
# server: see the garbage encrypted-key case of
# tests/shared/tokens/verification/test_decryption_failed.py).
RSA_FAILURE = (
    "1 error occurred:\n\t* failed to RSA decrypt the ciphertext: crypto/rsa: decryption error\n\n"
)


@pytest.fixture
def stub() -> Iterator[JwksServer]:
    server = JwksServer().start()
    try:
        yield server
    finally:
        server.stop()


def stub_vault(stub: JwksServer, status: int, errors: list[str]) -> Vault:
    stub.status, stub.body = status, json.dumps({"errors": errors}).encode()
    return Vault(Settings(vault_addr=stub.url.rsplit("/", 1)[0], vault_token="t", vault_timeout=1))


def test_rsa_failure_500_is_a_refusal(stub: JwksServer) -> None:
    """Transit's 500 for an undecryptable RSA ciphertext is a refusal of the bytes."""
    vault = stub_vault(stub, 500, [RSA_FAILURE])
    with pytest.raises(TransitDecryptRefused):
        vault.transit_decrypt("account-acme", 1, b"x" * 256)


@pytest.mark.parametrize(
    "message",
    ["local node not active but active cluster node not found", "internal error", ""],
    ids=["standby", "internal", "empty"],
)
def test_other_500_during_decrypt_is_an_outage(stub: JwksServer, message: str) -> None:
    """Any other 500 on transit/decrypt is Vault's failure (retryable), not the token's, even
    though the request URL names 'decrypt'."""
    vault = stub_vault(stub, 500, [message] if message else [])
    with pytest.raises(VaultUnavailable) as info:
        vault.transit_decrypt("account-acme", 1, b"x" * 256)
    assert not isinstance(info.value, TransitDecryptRefused)
    assert info.value.retryable is True


def test_not_found_and_forbidden(settings: Settings, vault: Vault) -> None:
    """A missing path is VaultNotFound; a token without the policy is VaultForbidden."""
    with pytest.raises(VaultNotFound):
        vault.kv_read("accounts/does-not-exist")
    root = hvac.Client(url=settings.vault_addr, token=settings.vault_token)
    weak = root.auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    limited = Vault(Settings(vault_addr=settings.vault_addr, vault_token=weak))
    with pytest.raises(VaultForbidden) as info:
        limited.kv_read("accounts/anything")
    assert info.value.code == "VAULT_FORBIDDEN"
    assert info.value.retryable is False


def test_sealed_vault_is_distinct_and_retryable(private_bao: DevServer) -> None:
    """A sealed Vault raises VaultSealed (a retryable VaultUnavailable)."""
    vault = Vault(Settings(vault_addr=private_bao.addr, vault_token=private_bao.token))
    bootstrap(vault)
    hvac.Client(url=private_bao.addr, token=private_bao.token).sys.seal()
    with pytest.raises(VaultSealed) as info:
        vault.kv_read("accounts/x")
    assert info.value.code == "VAULT_SEALED"
    assert info.value.retryable is True


def test_unreachable_is_fast_and_retryable() -> None:
    """Nothing listening: VaultUnavailable at once (refused connections are retried briefly)."""
    vault = Vault(Settings(vault_addr=f"http://127.0.0.1:{free_port()}", vault_timeout=2))
    start = time.monotonic()
    with pytest.raises(VaultUnavailable) as info:
        vault.kv_read("accounts/x")
    assert time.monotonic() - start < 1.0
    assert info.value.code == "VAULT_UNAVAILABLE"


def test_slow_vault_times_out_once(stub: JwksServer) -> None:
    """A Vault that does not answer costs one timeout, not one per retry."""
    stub.delay = 3.0
    vault = Vault(
        Settings(vault_addr=stub.url.rsplit("/", 1)[0], vault_token="t", vault_timeout=0.5)
    )
    start = time.monotonic()
    with pytest.raises(VaultUnavailable, match="in time"):
        vault.kv_read("accounts/x")
    assert time.monotonic() - start < 1.2
    assert stub.requests == 1


def test_approle_login_and_relogin(settings: Settings, vault: Vault) -> None:
    """Services log in with AppRole, and log in again when their token stops working."""
    root = hvac.Client(url=settings.vault_addr, token=settings.vault_token)
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle(
        "test-player", token_policies=["player"], token_ttl="10m"
    )
    role_id = root.auth.approle.read_role_id("test-player")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("test-player")["data"]["secret_id"]
    app = Vault(
        Settings(vault_addr=settings.vault_addr, vault_role_id=role_id, vault_secret_id=secret_id)
    )
    with pytest.raises(VaultNotFound):  # logged in: allowed to read, the account is absent
        app.kv_read("accounts/none-such")
    first_token = app._client.token
    root.auth.token.revoke(first_token)
    with pytest.raises(VaultNotFound):  # re-logged in transparently
        app.kv_read("accounts/none-such")
    assert app._client.token != first_token
    bad = Vault(
        Settings(vault_addr=settings.vault_addr, vault_role_id=role_id, vault_secret_id="wrong")
    )
    with pytest.raises(VaultForbidden):
        bad.kv_read("accounts/none-such")


def test_lost_answer_is_not_retried() -> None:
    """A rotate whose answer is lost after it was sent is not sent again (it may have rotated
    already): one request, then VaultUnavailable."""
    server = LosesAnswers()
    try:
        vault = Vault(Settings(vault_addr=server.url, vault_token="t", vault_timeout=2))
        with pytest.raises(VaultUnavailable):
            vault.transit_rotate("account-acme")
        assert server.requests == 1
    finally:
        server.close()
