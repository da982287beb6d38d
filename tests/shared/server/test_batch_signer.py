"""The batching Transit signer: correct signatures under concurrency, one Vault call for
many bearers, and no caller left waiting nor thread lost whatever Vault does."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import hvac
import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from shared import Settings, Vault, VaultUnavailable
from shared.server.batch_signer import BatchSigner
from tests.support.tokens import b64

KEY = "test-signer"


class CountingVault(Vault):
    """The real Vault facade, counting sign calls (and able to misbehave on demand)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.calls = 0
        self.fault: Exception | None = None
        self.delay = 0.0

    def transit_sign_jws(self, name: str, signing_inputs: list[bytes], version: int) -> list[str]:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fault is not None:
            raise self.fault
        return super().transit_sign_jws(name, signing_inputs, version)


@pytest.fixture(scope="module")
def keys(settings: Settings, vault: Vault) -> dict[int, ECKey]:
    """An ecdsa-p256 Transit key with two versions; public keys by version."""
    client = hvac.Client(url=settings.vault_addr, token=settings.vault_token)
    client.secrets.transit.create_key(KEY, key_type="ecdsa-p256")
    client.secrets.transit.rotate_key(KEY)
    data = client.secrets.transit.read_key(KEY)["data"]["keys"]
    return {int(v): ECKey.import_key(info["public_key"].encode()) for v, info in data.items()}


def signing_input(n: int) -> bytes:
    return f"{b64({'alg': 'ES256'})}.{b64({'n': n})}".encode()


def check(signature: str, n: int, key: ECKey) -> None:
    token = f"{signing_input(n).decode()}.{signature}"
    jws.deserialize_compact(token, key, algorithms=["ES256"])


def test_concurrent_signatures_are_batched_and_valid(
    settings: Settings, keys: dict[int, ECKey]
) -> None:
    """60 concurrent requests, half per key version, all get valid signatures in fewer
    Vault calls than requests."""
    vault = CountingVault(settings)
    signer = BatchSigner(vault, KEY, threads=1)
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda n: (n, signer.sign(signing_input(n), 1 + n % 2)), range(60)))
    for n, signature in results:
        check(signature, n, keys[1 + n % 2])
    assert vault.calls < 60


def test_vault_failure_reaches_callers_and_threads_survive(
    settings: Settings, keys: dict[int, ECKey]
) -> None:
    """A failing call gives every caller in the batch an error; the signer keeps working."""
    vault = CountingVault(settings)
    signer = BatchSigner(vault, KEY, threads=1)
    vault.fault = ValueError("boom")  # not a ServiceError: the signer must contain it
    with pytest.raises(VaultUnavailable, match="ValueError"):
        signer.sign(signing_input(1), 1)
    vault.fault = VaultUnavailable("down")
    with pytest.raises(VaultUnavailable, match="down"):
        signer.sign(signing_input(1), 1)
    vault.fault = None
    assert signer.healthy()
    check(signer.sign(signing_input(2), 1), 2, keys[1])


def test_caller_times_out_and_cancelled_jobs_are_skipped(
    settings: Settings, keys: dict[int, ECKey]
) -> None:
    """A caller waits at most its timeout; a job it gave up on is never sent to Vault."""
    vault = CountingVault(settings)
    signer = BatchSigner(vault, KEY, threads=1, timeout=0.3)
    vault.delay = 1.0
    blocker = threading.Thread(target=lambda: _ignore(signer, 0))
    blocker.start()
    time.sleep(0.1)  # the signer thread is now inside the slow call
    start = time.monotonic()
    with pytest.raises(VaultUnavailable, match="in time"):
        signer.sign(signing_input(1), 1)  # queued behind the slow call, then abandoned
    assert time.monotonic() - start < 0.6
    blocker.join()
    vault.delay = 0.0
    time.sleep(1.0)  # let the slow call (1 s) finish
    calls = vault.calls
    check(signer.sign(signing_input(3), 1), 3, keys[1])
    assert vault.calls == calls + 1  # only the new job: the abandoned one was skipped


def _ignore(signer: BatchSigner, n: int) -> Any:
    try:
        return signer.sign(signing_input(n), 1)
    except VaultUnavailable:
        return None


def test_awaited_signatures_are_batched_valid_and_time_out(
    settings: Settings, keys: dict[int, ECKey]
) -> None:
    """On an event loop: 40 awaited signatures share Vault calls and verify; one queued
    behind a slow call gives up after the timeout, and its job is never signed."""
    vault = CountingVault(settings)
    signer = BatchSigner(vault, KEY, threads=1, timeout=0.3)

    async def main() -> None:
        results = await asyncio.gather(*(signer.sign_async(signing_input(n), 1) for n in range(40)))
        for n, signature in enumerate(results):
            check(signature, n, keys[1])
        assert vault.calls < 40
        vault.delay = 1.0
        blocker = asyncio.create_task(_ignore_async(signer, 0))
        await asyncio.sleep(0.1)  # the signer thread is now inside the slow call
        start = time.monotonic()
        with pytest.raises(VaultUnavailable, match="in time"):
            await signer.sign_async(signing_input(1), 1)
        assert time.monotonic() - start < 0.6
        await blocker

    asyncio.run(main())
    vault.delay = 0.0
    time.sleep(1.0)  # let the slow call finish
    calls = vault.calls
    check(signer.sign(signing_input(3), 1), 3, keys[1])
    assert vault.calls == calls + 1  # the abandoned awaited job was skipped


async def _ignore_async(signer: BatchSigner, n: int) -> Any:
    try:
        return await signer.sign_async(signing_input(n), 1)
    except VaultUnavailable:
        return None
