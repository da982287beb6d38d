"""Vault stopped, restarted, sealed and slow while clients exchange tokens and encrypt.

Each test runs both APIs (logged in with their AppRoles) against its own one-node OpenBao
with Raft storage on disk, so the node can really be killed, restarted with its data,
sealed and unsealed; a slow Vault is a delaying TCP proxy in front of it. Expected
(DESIGN §6, docs/decisions.md "Caches"): while Vault is unavailable the Crypto API keeps
encrypting for accounts it holds (200), answers 503 with Retry-After only for what it
cannot serve (an account it never loaded; a bearer, which Vault must sign); no call
outlasts its bound; once Vault is back both recover on their own; every JWE and bearer
answered 200 is good.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.support.faults.load import (
    Call,
    Load,
    check_answers,
    describe,
    first_success_after,
    slowest,
)
from tests.support.faults.raft import RaftCluster
from tests.support.faults.stack import (
    ALWAYS_OK,
    CACHE_TTL,
    CALL_BOUND,
    VAULT_TIMEOUT,
    Stack,
    assert_bearers_verify,
    assert_jwes_open,
    root_vault,
    services,
)
from tests.support.tcp_proxy import TcpProxy

#: How long each fault lasts: well past the cache TTL, so cached entries expire during it and
#: each client still gets calls in after waiting out a reload or two (slow Vault, loaded CI).
FAULT_SECONDS = 4.5
#: After Vault is back, how soon token exchanges and never-loaded accounts must work again:
#: the caches' back-off after a failure (max(TTL, 1 s)) plus a loaded machine.
RECOVERY_BOUND = max(CACHE_TTL, 1.0) + 3.0


def run_fault(stack: Stack, inject: Callable[[], None], restore: Callable[[], None]) -> list[Call]:
    """Load both APIs, inject the fault for FAULT_SECONDS while an account the Crypto API
    never loaded is tried too, restore, and check the contract; returns the calls."""
    with Load("", stack.warm_requests(), clients=4, pause=0.01) as load:
        time.sleep(0.5)
        with Load("", [("cold", stack.encrypt_as(stack.cold))], clients=1, pause=0.1) as cold:
            fault = time.monotonic()
            inject()
            time.sleep(max(0.0, fault + FAULT_SECONDS - time.monotonic()))
            restore()
            back = time.monotonic()
            deadline = back + RECOVERY_BOUND + 5
            while time.monotonic() < deadline and not any(
                c.status == 200 and c.sent >= back for c in cold.snapshot()
            ):
                time.sleep(0.2)
            time.sleep(1.0)  # then load that must all succeed
            cold_calls = cold.stop()
        calls = load.stop()
    everything = calls + cold_calls
    during = [c for c in calls if fault + CACHE_TTL <= c.sent < back]

    summary = describe(everything, fault)
    assert check_answers(everything) == [], summary
    assert [c for c in calls if c.kind in ALWAYS_OK and c.status != 200] == [], summary
    # A call per client at least once every cached entry had expired (under a slow Vault a
    # client may wait out a reload or two: one per cache, see docs/reliability.md).
    assert len(during) >= 2, f"too few calls once every cached entry had expired:\n{summary}"
    # The Crypto API cannot serve an account it never loaded: 503 UNKNOWN, then 200.
    assert cold_calls[0].status == 503, cold_calls[0]
    assert cold_calls[0].code == "UNKNOWN"
    slow = slowest(everything)
    assert slow is not None
    assert slow.seconds < CALL_BOUND, slow
    for kind, seen_calls in (("token", calls), ("cold", cold_calls)):
        recovered_in = first_success_after(seen_calls, back, kind)
        summary += f"\n{kind} recovered {recovered_in:.2f}s after Vault was back"
        assert recovered_in < RECOVERY_BOUND, (kind, summary)
        # Recovered for good: calls sent once a first one succeeded all succeed.
        late = [c for c in seen_calls if c.kind == kind and c.sent > back + recovered_in]
        assert late, f"no {kind} call after recovery"
        assert all(c.status == 200 for c in late), late[:3]
    assert_jwes_open(stack.admin, everything)
    assert_bearers_verify(stack.authz, calls)
    print(summary)  # the figures: pytest -rP tests/faults
    return everything


@pytest.mark.parametrize("how", ["killed", "restarted"])
def test_vault_stopped(raft_node: RaftCluster, how: str) -> None:
    """Vault killed (SIGKILL, back after a few seconds) or restarted (SIGTERM and at once
    started again): both APIs answer 200 or 503 + Retry-After, the Crypto API keeps
    encrypting for the account it holds, and everything recovers once Vault is unsealed."""
    node = raft_node.nodes[0]
    with services(root_vault(raft_node), raft_node.addrs) as stack:
        if how == "killed":
            run_fault(stack, node.kill, lambda: raft_node.restart(node))
        else:

            def restart() -> None:
                node.stop()
                raft_node.restart(node)

            run_fault(stack, restart, lambda: None)


def test_vault_sealed(raft_node: RaftCluster) -> None:
    """Vault sealed by an operator, then unsealed: the same contract as a stopped Vault
    (a sealed Vault answers 503, which the services treat as unavailable)."""
    node = raft_node.nodes[0]
    with services(root_vault(raft_node), raft_node.addrs) as stack:
        run_fault(stack, raft_node.seal, lambda: raft_node.unseal(node))


def test_vault_slow(raft_node: RaftCluster) -> None:
    """A Vault whose answers take longer than the services' timeout (a delaying proxy):
    calls that need Vault give up after their timeout with 503 + Retry-After instead of
    hanging, cached accounts keep encrypting without ever waiting for a reload (expired
    entries are served while one background refresh runs), and all is well once Vault is
    fast again."""
    node = raft_node.nodes[0]
    with (
        TcpProxy("127.0.0.1", node.port) as proxy,
        services(root_vault(raft_node), proxy.addr) as stack,
    ):

        def slow() -> None:
            proxy.delay = VAULT_TIMEOUT * 2.5

        def fast() -> None:
            proxy.delay = 0.0

        calls = run_fault(stack, slow, fast)
        assert proxy.accepted > 0
    # A reload waited for would take a whole Vault timeout: no cached call came near one.
    cached = [c for c in calls if c.kind in ALWAYS_OK]
    assert cached
    assert max(c.seconds for c in cached) < 0.9 * VAULT_TIMEOUT, slowest(cached)
