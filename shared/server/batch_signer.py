"""Coalescing concurrent Transit signatures into batch calls.

Each Vault call costs far more client-side work (hvac, requests, JSON: ~0.7 ms of CPU
measured here) than Vault's ECDSA signature itself, so under load we sign many bearers per
call with Transit's ``batch_input``. Batching is opportunistic: a signer thread takes
whatever is queued, signs it in one call, and repeats; a lone request is signed at once,
so light traffic pays no extra latency.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Final

from shared.errors import ServiceError, VaultUnavailable
from shared.vault import Vault

__all__ = ["BatchSigner"]

_MAX_BATCH: Final = 64


class _Job:
    __slots__ = ("future", "signing_input", "version")

    def __init__(self, signing_input: bytes, version: int) -> None:
        self.signing_input = signing_input
        self.version = version
        self.future: Future[str] = Future()


class BatchSigner:
    """Signs JWS signing inputs with a Transit key, batching concurrent requests.

    Args:
        vault: the Vault facade.
        key: the Transit key name.
        threads: signer threads, i.e. Vault calls in flight at once.
        timeout: seconds a caller waits at most for its signature.
    """

    def __init__(self, vault: Vault, key: str, *, threads: int = 2, timeout: float = 10.0) -> None:
        self._vault = vault
        self._key = key
        self._threads = threads
        self._timeout = timeout
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._started = False
        self._start_lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def sign(self, signing_input: bytes, version: int) -> str:
        """The base64url signature of ``signing_input`` by key ``version``.

        Raises:
            VaultError: Vault failed or refused; VaultUnavailable when it took too long.
        """
        self._ensure_started()
        job = _Job(signing_input, version)
        self._queue.put(job)
        try:
            return job.future.result(timeout=self._timeout)
        except TimeoutError:
            job.future.cancel()  # still queued: the signer skips it
            raise VaultUnavailable("Vault did not sign in time") from None

    async def sign_async(self, signing_input: bytes, version: int) -> str:
        """:meth:`sign` for the event loop: the caller awaits its signature instead of
        holding a worker thread while Transit answers.

        Raises:
            As :meth:`sign`.
        """
        self._ensure_started()
        job = _Job(signing_input, version)
        self._queue.put(job)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), self._timeout)
        except TimeoutError:
            raise VaultUnavailable("Vault did not sign in time") from None

    def healthy(self) -> bool:
        """False if a started signer thread has died (readiness reports it)."""
        return not self._started or all(t.is_alive() for t in self._workers)

    def _ensure_started(self) -> None:
        # Threads start on first use: after the server has forked its workers.
        if self._started:
            return
        with self._start_lock:
            if self._started:
                return
            for n in range(self._threads):
                worker = threading.Thread(target=self._run, name=f"transit-signer-{n}", daemon=True)
                worker.start()
                self._workers.append(worker)
            self._started = True

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # Callers that gave up (timeout) cancelled their job: do not sign for nobody.
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            for version in sorted({job.version for job in live}):
                self._sign([job for job in live if job.version == version], version)

    def _sign(self, jobs: list[_Job], version: int) -> None:
        """Sign ``jobs`` in one call; every job ends with a result or an error, whatever
        happens (a signer thread must never die nor leave a caller waiting)."""
        try:
            signatures = self._vault.transit_sign_jws(
                self._key, [job.signing_input for job in jobs], version
            )
        except ServiceError as exc:
            error: ServiceError = exc
        except Exception as exc:  # noqa: BLE001 - reported to the callers, not raised here
            error = VaultUnavailable(f"signing failed: {type(exc).__name__}")
        else:
            for job, signature in zip(jobs, signatures, strict=True):
                job.future.set_result(signature)
            return
        for job in jobs:
            job.future.set_exception(error)
