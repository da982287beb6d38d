"""Acceptance: while Vault is down, verification says UNKNOWN (retryable) quickly, and keeps
checking what it can with what it already holds.

Each test runs its own private OpenBao, so stopping (or freezing) it cannot disturb others.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from shared import (
    Account,
    AccountStore,
    KeyStore,
    PublicKeyValidation,
    Sealer,
    Settings,
    Vault,
    VerificationUnavailable,
    VerifiedToken,
    Verifier,
)
from shared.ops.bootstrap import bootstrap
from tests.support.openbao import DevServer
from tests.support.tokens import claims, pem, sign

TIMEOUT = 2.0
#: Slack for a loaded machine on top of the Vault timeout (connect retries back off 50 ms).
MARGIN = 1.0
QUICK_TIMEOUT = 0.5


class _Stack:
    """A private OpenBao with one public-key account, a JWS and a JWE sealed for it."""

    def __init__(self, server: DevServer, timeout: float) -> None:
        self.server = server
        admin = Vault(Settings(vault_addr=server.addr, vault_token=server.token))
        bootstrap(admin)
        self.account = AccountStore(admin).create(
            Account(
                id="acme",
                validation=PublicKeyValidation(
                    algorithms=("ES256",), public_key_pem=pem("ec-p256")
                ),
            )
        )
        self.jws = sign(claims(), "ES256", "ec-p256")
        self.jwe = Sealer(KeyStore(admin), admin.settings).seal("acme", self.jws)
        # TTL 0: every verification goes back to Vault, so the outage is always noticed.
        self.settings = Settings(
            vault_addr=server.addr, vault_token=server.token, vault_timeout=timeout, cache_ttl=0.0
        )
        self.verifier = Verifier(Vault(self.settings))

    def verify(self, token: str, account_id: str = "acme") -> VerifiedToken:
        return self.verifier.verify(token, account_id=account_id, campaign_id="1001")


@pytest.fixture
def private_bao() -> Iterator[DevServer]:
    """A private OpenBao, stopped at the end even if the test froze it."""
    server = DevServer().start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


@pytest.fixture
def stack(private_bao: DevServer) -> _Stack:
    """A bootstrapped private OpenBao and a verifier with a 2 s Vault timeout, no cache TTL."""
    return _Stack(private_bao, TIMEOUT)


@pytest.fixture
def quick_stack(private_bao: DevServer) -> _Stack:
    """The same with a 0.5 s Vault timeout, for tests that wait for timeouts to fire."""
    return _Stack(private_bao, QUICK_TIMEOUT)


def _unavailable(stack: _Stack, token: str, account_id: str = "acme") -> float:
    """Verify ``token``, expect UNKNOWN (retryable); return how long it took."""
    start = time.monotonic()
    with pytest.raises(VerificationUnavailable) as caught:
        stack.verify(token, account_id)
    elapsed = time.monotonic() - start
    assert caught.value.code == "UNKNOWN"
    assert caught.value.retryable is True
    return elapsed


def test_vault_stopped(stack: _Stack) -> None:
    """With Vault stopped, a JWE is UNKNOWN within the timeout and a cached-account JWS verifies."""
    assert stack.verify(stack.jwe).key_version == 1
    assert stack.verify(stack.jws).encrypted is False
    stack.server.stop()

    assert _unavailable(stack, stack.jwe) < TIMEOUT + MARGIN
    result = stack.verify(stack.jws)  # account and PEM from the stale cache
    assert result.subject == "participant-42"


def test_vault_stopped_unknown_account(stack: _Stack) -> None:
    """An account never loaded before the outage cannot be judged: UNKNOWN, not a token error."""
    stack.verify(stack.jws)
    stack.server.stop()
    assert _unavailable(stack, stack.jws, "never-seen") < TIMEOUT + MARGIN
    assert _unavailable(stack, stack.jwe, "never-seen") < TIMEOUT + MARGIN


def test_vault_hanging(quick_stack: _Stack) -> None:
    """A Vault that accepts connections but never answers costs a timeout per Vault call.

    A JWE needs two calls once the account's cache entry has expired (reload the account, then
    decrypt), so the bound is two timeouts; the JWS needs one (the reload) and then verifies
    from the stale entry.
    """
    stack = quick_stack
    stack.verify(stack.jwe)
    stack.verify(stack.jws)
    assert stack.server.process is not None
    stack.server.process.send_signal(signal.SIGSTOP)  # the kernel still accepts connections

    elapsed = _unavailable(stack, stack.jwe)
    assert QUICK_TIMEOUT * 0.9 <= elapsed < 2 * QUICK_TIMEOUT + MARGIN
    start = time.monotonic()
    assert stack.verify(stack.jws).subject == "participant-42"
    assert time.monotonic() - start < QUICK_TIMEOUT + MARGIN


def test_vault_back_after_outage(quick_stack: _Stack) -> None:
    """When Vault answers again, the same verifier opens JWEs again: nothing stays broken."""
    stack = quick_stack
    stack.verify(stack.jwe)
    assert stack.server.process is not None
    stack.server.process.send_signal(signal.SIGSTOP)
    _unavailable(stack, stack.jwe)
    stack.server.process.send_signal(signal.SIGCONT)
    assert stack.verify(stack.jwe).key_version == 1
