"""One bulk encryption run: batches of rows sent by concurrent workers, paced and retried.

The input is streamed: at most ``concurrency`` batches are in flight and as many
queued. A 429 pauses every worker for its ``Retry-After`` (the rate limit is the
account's) without spending a retry; 502/503/504 and transport failures are retried with
exponential back-off and jitter; once a batch outlasts its retries the run stops (the API
is down: the other rows would fail alike) and leaves the rest for a rerun. A 413 splits
the batch in halves (a ``batch_size`` above the server's ``CRYPTO_BATCH_MAX``).
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Final, Protocol

import msgspec

from shared.client.errors import ApiError, ApiRateLimited, ApiRefused, ApiUnavailable
from shared.client.output_file import Line, OutputFile, done_line, refused_line
from shared.client.retry import Pause, RetryPolicy, call_with_retries
from shared.client.row_signer import RowSigner
from shared.client.rows import ROW_INVALID, TOKEN_FIELD, Format, InputInvalid, Row
from shared.wire import Encrypted, ItemError

__all__ = ["RATE_LIMITED_REASON", "BatchEncryptor", "BulkOptions", "BulkRun", "Progress"]

#: What the progress is told while a 429's Retry-After is waited out.
RATE_LIMITED_REASON: Final = "rate limited (429)"
#: Item codes that are not the token's fault: the row is retried, never written as refused.
_RETRYABLE_ITEM_CODES: Final = frozenset({"UNKNOWN"})


class BatchEncryptor(Protocol):
    """What the run needs of :class:`~shared.client.api_client.ApiClient`."""

    def encrypt_batch(self, tokens: Sequence[str]) -> list[Encrypted | ItemError]:
        """Per token a JWE or its refusal, in order."""
        ...


class Progress(Protocol):
    """Told how far the run is; drawn by the caller."""

    def start(self, total: int, done: int) -> None:
        """``total`` rows, ``done`` of them already in the output."""
        ...

    def advance(self, rows: int) -> None:
        """``rows`` more rows were written."""
        ...

    def waiting(self, seconds: float, reason: str) -> None:
        """Nothing is sent for ``seconds`` from now, because of ``reason`` (``rate limited
        (429)`` while the account's rate limit is waited out)."""
        ...

    def close(self) -> None:
        """The run is over."""
        ...


class BulkOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How to read the input and pace the calls."""

    format: Format | None = None
    token_field: str = TOKEN_FIELD
    id_field: str | None = None
    batch_size: int = 500
    concurrency: int = 4
    retry: RetryPolicy = RetryPolicy()


class _Stopped(Exception):
    """The run is stopping: leave this batch for a rerun."""


class BulkRun:
    """One run: the main thread reads rows and queues batches; ``concurrency`` workers sign,
    send (with retries) and write."""

    def __init__(
        self,
        output: OutputFile,
        client: BatchEncryptor,
        options: BulkOptions,
        signer: RowSigner | None,
        progress: Progress | None,
    ) -> None:
        self._output = output
        self._client = client
        self._options = options
        self._signer = signer
        self._progress = progress
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pause = Pause()
        self.fatal: BaseException | None = None
        self.written = 0
        self.failed: Counter[str] = Counter()
        self.failed_rows: list[int] = []
        #: The smallest batch the API answered 413 to: later batches are split below it.
        self._too_large = options.batch_size + 1

    def feed(self, rows: Iterator[Row], skip: set[int]) -> None:
        size, workers = self._options.batch_size, self._options.concurrency
        batches: queue.Queue[list[Row] | None] = queue.Queue(maxsize=workers)
        threads = [
            threading.Thread(target=self._work, args=(batches,), name=f"encrypt-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in threads:
            thread.start()
        try:
            batch: list[Row] = []
            for row in rows:
                if row.number in skip:
                    continue
                self._check_signable(row)
                batch.append(row)
                if len(batch) == size:
                    if not self._put(batches, batch):
                        break
                    batch = []
            if batch:
                self._put(batches, batch)
        except BaseException:
            self._stop.set()
            raise
        finally:
            for _ in threads:
                batches.put(None)  # workers drain the queue even when stopping
            try:
                for thread in threads:
                    thread.join()
            except BaseException:  # Ctrl-C while the last batches are in flight
                self._stop.set()
                raise

    def _check_signable(self, row: Row) -> None:
        if row.claims is not None and self._signer is None:
            raise InputInvalid(
                f"row {row.number} has no {self._options.token_field!r} field: give "
                "--key and --alg to sign rows from their fields"
            )

    def _put(self, batches: queue.Queue[list[Row] | None], batch: list[Row]) -> bool:
        while not self._stop.is_set():
            try:
                batches.put(batch, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, batches: queue.Queue[list[Row] | None]) -> None:
        while (batch := batches.get()) is not None:
            if self._stop.is_set():
                continue  # left for a rerun
            try:
                self._batch(batch)
            except _Stopped:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                with self._lock:
                    self.fatal = self.fatal or exc
                self._stop.set()

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def _batch(self, rows: list[Row]) -> None:
        lines: list[Line] = []
        items: list[tuple[Row, str]] = []
        for row in rows:
            if row.problem is not None:
                lines.append(refused_line(row, ROW_INVALID, row.problem))
            elif row.token is not None:
                items.append((row, row.token))
            elif self._signer is not None and row.claims is not None:  # checked by feed
                items.append((row, self._signer.sign(row.claims)))
        self._write(lines)
        retries = 0
        while items:
            try:
                results = self._call(items)
            except ApiUnavailable as exc:
                self._give_up(items, exc.code)
                return
            lines, again, code = [], [], ""
            for (row, token), result in zip(items, results, strict=True):
                if isinstance(result, Encrypted):
                    lines.append(done_line(row, result))
                elif result.code in _RETRYABLE_ITEM_CODES:
                    again.append((row, token))
                    code = result.code
                else:
                    lines.append(refused_line(row, result.code, result.detail))
            self._write(lines)
            if again and retries >= self._options.retry.retries:
                self._give_up(again, code)
                return
            if again:
                delay = self._options.retry.backoff(retries)
                self._waiting(delay, f"{code} items, retrying")
                self._sleep(delay)
                retries += 1
            items = again

    def _call(self, items: list[tuple[Row, str]]) -> list[Encrypted | ItemError]:
        """One batch call (retried), split in halves while the API says it is too large."""
        if len(items) > 1 and len(items) >= self._too_large:
            half = len(items) // 2
            return self._call(items[:half]) + self._call(items[half:])
        tokens = [token for _, token in items]
        try:
            return call_with_retries(
                lambda: self._client.encrypt_batch(tokens),
                self._options.retry,
                pause=self._pause,
                sleep=self._sleep,
                on_wait=self._waited,
            )
        except ApiRefused as exc:
            if exc.status is not None and exc.status >= 500:
                # One poisoned row can fail a whole batch (a bug on the server's side, not
                # an outage: retrying it unchanged would fail again). Halve the batch until
                # the row is alone: it is recorded refused with the code, the rest done.
                if len(items) == 1:
                    return [ItemError(code=exc.code, detail=exc.detail)]
                half = len(items) // 2
                return self._call(items[:half]) + self._call(items[half:])
            if exc.status != 413:
                raise
            if len(items) == 1:  # too large on its own: that is the token's problem
                return [ItemError(code=exc.code, detail=exc.detail)]
            with self._lock:
                self._too_large = min(self._too_large, len(items))
            return self._call(items)

    def _waited(self, failure: ApiError, delay: float) -> None:
        """A call waits ``delay`` seconds before its next try: the progress says why (the
        other workers wait on the shared pause meanwhile, within the same time)."""
        if isinstance(failure, ApiRateLimited):
            self._waiting(delay, RATE_LIMITED_REASON)
        else:
            self._waiting(delay, f"{failure.code}, retrying")

    def _waiting(self, seconds: float, reason: str) -> None:
        if self._progress is not None:
            self._progress.waiting(seconds, reason)

    def _give_up(self, items: list[tuple[Row, str]], code: str) -> None:
        """The API stayed unavailable through the retries: these rows are not written, and
        the run stops (the rest would fail the same way); a rerun does them."""
        with self._lock:
            self.failed[code] += len(items)
            room = 100 - len(self.failed_rows)
            self.failed_rows.extend(row.number for row, _ in items[:room])
        self._stop.set()

    def _write(self, lines: list[Line]) -> None:
        """One answer's lines in one write: a kill leaves all of them or a torn last line."""
        if not lines:
            return
        data = b"".join(line for _, _, line in lines)
        with self._output.lock:
            if self._output.closed:
                return  # the run was interrupted: these rows are left for a rerun
            self._output.write(data)
            for row, code, _ in lines:
                self._output.ledger.record(row, code)
            self.written += len(lines)
        if self._progress is not None:
            self._progress.advance(len(lines))
