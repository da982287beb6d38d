"""A slow Vault under load: every answer of Vault held 2 s by a delaying proxy, with a 1 s
cache TTL so that every cached entry expires again and again during the run.

Expected (docs/decisions.md "Caches"; issue 18): a warm account never waits for Vault,
because an expired entry is served while one background refresh per key runs
(stale-while-revalidate): p99 under 50 ms for the Crypto API's ``/v1/encrypt`` and for the
player's verification (:class:`shared.Verifier`, sync and async). An account nothing holds
is answered 503 + ``Retry-After`` (``UNKNOWN`` for the verifier) within the verification
deadline (``VERIFY_DEADLINE_SECONDS``), not after a Vault timeout per read; once the reads
land (Vault slow but answering) or once Vault is fast again (Vault timing out), it is
served. Two Vault client timeouts: 3 s (Vault answers, slowly: the refreshes succeed) and
1 s (every Vault call times out: the refreshes fail and stale-if-error serves).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from shared import KeyStore, Sealer, Settings, Vault, Verifier
from shared.errors import VerificationUnavailable
from tests.support.faults.load import Load, check_answers, describe
from tests.support.faults.raft import RaftCluster
from tests.support.faults.stack import (
    CACHE_TTL,
    approle_settings,
    new_account,
    root_vault,
    services,
)
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import claims, sign

#: Seconds the proxy holds each answer of Vault.
DELAY = 2.0
#: The verification deadline of the services under test: shorter than one slow Vault read.
DEADLINE = 1.5
#: How long the load runs against the slow Vault: many TTLs, several refresh rounds.
RUN_SECONDS = 8.0
#: The same load on a fast Vault first, for comparison.
BASELINE_SECONDS = 3.0
#: The acceptance bound for warm accounts' p99...
P99_BOUND = 0.050
#: ...unless the machine is too loaded to meet it with a fast Vault (2 shared cores, the
#: services and the load in one process): then the slow Vault may not add more than this
#: to the p99 the same load had on a fast Vault just before.
P99_NOISE = 1.25
#: What a loaded 2-core machine adds to a deadline before the answer is out.
SLACK = 0.5


def p99(seconds: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@dataclass(frozen=True)
class Verification:
    """One call of the player's verifier (monotonic times); ``error`` is a code or ""."""

    sent: float
    seconds: float
    error: str


class VerifierLoad:
    """Threads verifying a JWS for an account with :meth:`Verifier.verify`, and one event
    loop doing it with :meth:`Verifier.verify_async`, each recording every call."""

    def __init__(self, verifier: Verifier, jws: str, account_id: str, *, threads: int) -> None:
        self._verifier = verifier
        self._jws = jws
        self._account = account_id
        self._stop = threading.Event()
        self.calls: list[Verification] = []
        self.async_calls: list[Verification] = []
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self._threads.append(threading.Thread(target=self._run_async, daemon=True))

    def __enter__(self) -> VerifierLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            error = ""
            try:
                self._verifier.verify(self._jws, account_id=self._account, campaign_id="1001")
            except VerificationUnavailable as exc:
                error = exc.code
            self.calls.append(Verification(sent, time.monotonic() - sent, error))
            time.sleep(0.005)

    def _run_async(self) -> None:
        async def run() -> None:
            while not self._stop.is_set():
                sent = time.monotonic()
                error = ""
                try:
                    await self._verifier.verify_async(
                        self._jws, account_id=self._account, campaign_id="1001"
                    )
                except VerificationUnavailable as exc:
                    error = exc.code
                self.async_calls.append(Verification(sent, time.monotonic() - sent, error))
                await asyncio.sleep(0.005)

        asyncio.run(run())


def player_settings(admin: Vault, addr: str, vault_timeout: float) -> Settings:
    """The player's verifier settings: its AppRole, through the proxy, as the services."""
    return approle_settings(
        admin,
        "player",
        addr,
        vault_timeout=vault_timeout,
        cache_ttl=CACHE_TTL,
        verify_deadline=DEADLINE,
    )


def cold_verifications(verifier: Verifier, jws: str, account_id: str) -> list[Verification]:
    """Verify for an account the verifier never read, every 0.2 s for 3 s."""
    calls: list[Verification] = []
    until = time.monotonic() + 3.0
    while time.monotonic() < until:
        sent = time.monotonic()
        error = ""
        try:
            verifier.verify(jws, account_id=account_id, campaign_id="1001")
        except VerificationUnavailable as exc:
            error = exc.code
        calls.append(Verification(sent, time.monotonic() - sent, error))
        time.sleep(0.2)
    return calls


@pytest.mark.parametrize(
    "vault_timeout", [3.0, 1.0], ids=["vault-answers-in-2s", "vault-times-out"]
)
def test_warm_accounts_do_not_wait_for_a_slow_vault(
    raft_node: RaftCluster, vault_timeout: float
) -> None:
    """Under a Vault 2 s slow per call, warm accounts' encrypts and verifications keep a p99
    under 50 ms with every cached entry expiring each second; an account nothing holds gets
    503 / UNKNOWN within the deadline, and is served once its reads land."""
    node = raft_node.nodes[0]
    with (
        TcpProxy("127.0.0.1", node.port) as proxy,
        services(
            root_vault(raft_node), proxy.addr, vault_timeout=vault_timeout, verify_deadline=DEADLINE
        ) as stack,
    ):
        player = Verifier(Vault(player_settings(stack.admin, proxy.addr, vault_timeout)))
        player.verify(stack.jws, account_id=stack.warm.id, campaign_id="1001")
        cold_player = Verifier(Vault(player_settings(stack.admin, proxy.addr, vault_timeout)))
        cold_player.verify(stack.jws, account_id=stack.warm.id, campaign_id="1001")  # logged in
        accepted_before = proxy.accepted
        with (
            Load("", [("encrypt", stack.encrypt_as(stack.warm))], clients=4, pause=0.01) as load,
            VerifierLoad(player, stack.jws, stack.warm.id, threads=1) as verifying,
        ):
            time.sleep(0.3)
            fast_from = time.monotonic()
            time.sleep(BASELINE_SECONDS)  # the same load on a fast Vault, for comparison
            slow_from = time.monotonic()
            proxy.delay = DELAY
            time.sleep(CACHE_TTL)  # every cached entry has expired from here on
            with Load("", [("cold", stack.encrypt_as(stack.cold))], clients=1, pause=0.2) as cold:
                unknown = cold_verifications(cold_player, stack.jws, stack.cold.id)
                time.sleep(max(0.0, slow_from + RUN_SECONDS - time.monotonic()))
                cold_calls = cold.stop()
            slow_until = time.monotonic()
            calls = load.stop()
        proxy.delay = 0.0
        recovered = cold_verifications(cold_player, stack.jws, stack.cold.id)

    during = [c for c in calls if slow_from <= c.sent < slow_until]
    verified = [c for c in verifying.calls if slow_from <= c.sent < slow_until]
    verified_async = [c for c in verifying.async_calls if slow_from <= c.sent < slow_until]
    figures = {
        "encrypt": (len(during), p99([c.seconds for c in during])),
        "verify": (len(verified), p99([c.seconds for c in verified])),
        "verify_async": (len(verified_async), p99([c.seconds for c in verified_async])),
    }
    baseline = {
        "encrypt": [c.seconds for c in calls if fast_from <= c.sent < slow_from],
        "verify": [c.seconds for c in verifying.calls if fast_from <= c.sent < slow_from],
        "verify_async": [
            c.seconds for c in verifying.async_calls if fast_from <= c.sent < slow_from
        ],
    }
    summary = (
        f"timeout {vault_timeout}s, delay {DELAY}s, deadline {DEADLINE}s\n"
        + "\n".join(
            f"{k}: {n} calls, p99 {s * 1000:.1f} ms (fast Vault before: {len(baseline[k])} "
            f"calls, p99 {p99(baseline[k]) * 1000:.1f} ms)"
            for k, (n, s) in figures.items()
        )
        + f"\n{describe(calls + cold_calls, slow_from)}"
        + f"\ncold verify: {[(c.error or 'ok', round(c.seconds, 2)) for c in unknown]}"
        + f"\nVault connections during the run: {proxy.accepted - accepted_before}"
        + f"\nload average {os.getloadavg()[0]:.1f}"
    )
    print(summary)  # the figures: pytest -rP tests/faults/test_vault_slow_load.py

    # Warm accounts: every call answered 200 / verified, none waited for Vault (a wait
    # lasts a Vault timeout or the deadline), p99 under 50 ms.
    assert all(c.status == 200 for c in during), summary
    assert not [c for c in verified + verified_async if c.error], summary
    waited = 0.9 * min(vault_timeout, DEADLINE)
    assert max(c.seconds for c in during + verified + verified_async) < waited, summary
    for kind, (count, seconds) in figures.items():
        assert count >= 50, (kind, summary)
        assert seconds < max(P99_BOUND, P99_NOISE * p99(baseline[kind])), (kind, summary)
    # The account nothing held: 503 + Retry-After (UNKNOWN) within the deadline, never
    # slower, and once its reads land (Vault slow but answering) it is served.
    assert check_answers(cold_calls) == [], summary
    assert cold_calls[0].status == 503, summary
    assert max(c.seconds for c in cold_calls) < DEADLINE + SLACK, summary
    assert unknown[0].error == "UNKNOWN", summary
    assert max(c.seconds for c in unknown) < DEADLINE + SLACK, summary
    if vault_timeout > DELAY:
        assert cold_calls[-1].status == 200, summary
        assert unknown[-1].error == "", summary
    else:
        assert {c.status for c in cold_calls} == {503}, summary
        assert {c.error for c in unknown} == {"UNKNOWN"}, summary
    assert recovered[-1].error == "", summary  # Vault fast again: served


def _timed(call: Callable[[], object]) -> tuple[float, str]:
    """Seconds ``call`` took, and ``UNKNOWN`` if it raised VerificationUnavailable."""
    sent = time.monotonic()
    try:
        call()
    except VerificationUnavailable as exc:
        return time.monotonic() - sent, exc.code
    return time.monotonic() - sent, ""


def test_one_deadline_for_a_whole_verification(raft_node: RaftCluster) -> None:
    """A JWE of an account nothing holds needs two slow reads (the account, then Transit's
    decryption): together they get one deadline, then UNKNOWN (sync and async), instead of
    a wait per read; the read that landed meanwhile serves the retry."""
    admin = root_vault(raft_node)
    account, other = new_account(admin, "jwe"), new_account(admin, "login")
    jwe = Sealer(KeyStore(admin), admin.settings).seal(
        account.id, sign(claims(), "ES256", "ec-p256")
    )
    node = raft_node.nodes[0]
    with TcpProxy("127.0.0.1", node.port) as proxy:
        verifier = Verifier(Vault(player_settings(admin, proxy.addr, vault_timeout=3.0)))
        verifier.active_account(other.id)  # logged in before Vault turns slow

        def verify() -> object:
            return verifier.verify(jwe, account_id=account.id, campaign_id="1001")

        async def verify_async() -> object:
            return await verifier.verify_async(jwe, account_id=account.id, campaign_id="1001")

        proxy.delay = 1.0  # two reads of 1 s each: 2 s, over the 1.5 s deadline
        cold = _timed(verify)
        warm = _timed(verify)  # the account landed at 1 s; the decryption alone fits
        proxy.delay = 2.0  # now one decryption outlasts the deadline
        slow_sync = _timed(verify)
        slow_async = _timed(lambda: asyncio.run(verify_async()))
        proxy.delay = 0.0
        fast = _timed(verify)

    summary = f"cold {cold}, warm {warm}, slow {slow_sync} / async {slow_async}, fast {fast}"
    print(summary)  # the figures: pytest -rP tests/faults/test_vault_slow_load.py
    for seconds, code in (cold, slow_sync, slow_async):
        assert code == "UNKNOWN", summary
        assert DEADLINE - 0.05 < seconds < DEADLINE + SLACK, summary
    assert warm[1] == "", summary
    assert warm[0] < DEADLINE, summary
    assert fast[1] == "", summary
