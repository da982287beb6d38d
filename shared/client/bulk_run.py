"""Encrypt a file of secure tokens through the Crypto API's batch endpoint, resumably.

**Rows.** The input is CSV (a header row, then records) or JSON Lines (one object a line).
A row is a CSV record after the header, or a non-blank JSONL line; rows are numbered from 1
in file order, and that number is the key of the output.

- A row with a ``token`` field (``token_field``) is sent as is.
- Otherwise its fields are the claims of a JWS that :class:`RowSigner` signs with the
  customer's key (``sub`` and ``campaignId`` are required by the API, which refuses the row
  with ``TOKEN_INVALID_CLAIMS`` without them). Fields whose name starts with ``_`` are never
  claims (use one as the row's id). In CSV, empty cells are left out, ``profile.email``
  nests (``{"profile": {"email": …}}``), a ``:json`` suffix parses the cell as JSON
  (``limit:json`` = ``{"nb": 1, "canPlay": true}``), and ``exp``/``iat``/``nbf`` are numbers.
- ``id_field`` names a field copied to the output as ``id``, to join results back.

**Output.** JSON Lines, one line per row, in completion order (not input order):
``{"row": N, "id"?: …, "token": JWE, "kid": …}``, or ``{"row": N, "id"?: …, "error":
{"code", "detail"}}`` for a row refused for good (its DESIGN §2 code, or ``ROW_INVALID``
for a line that is not a usable row). A row that fails for a reason that is not its own (the
API unavailable beyond the retries) is not written: it is counted as not done, and a rerun
does it.

**Resuming and never twice.** On start the output is locked (one run at a time), read, a
torn last line (a run killed while writing) is cut off, and the rows it holds are skipped.
Each row is sent by one worker; the lines of one answer are written with one unbuffered
``write`` under a lock, so a killed run loses at most the answers in flight, never half of
what the file says is done. There is no ``fsync`` per batch (a killed process loses nothing
the kernel has; only a machine crash could, and a rerun redoes what is missing); the file is
synced once at the end. Rerun with the same input: an output holding a row number beyond
the input is refused as written for another one.

**Pacing.** The input is streamed: at most ``concurrency`` batches are in flight and as many
queued. A 429 pauses every worker for its ``Retry-After`` (the rate limit is the
account's) without spending a retry; 502/503/504 and transport failures are retried with
exponential back-off and jitter; once a batch outlasts its retries the run stops (the API
is down: the other rows would fail alike) and leaves the rest for a rerun. A 413 splits
the batch in halves (a ``batch_size`` above the server's ``CRYPTO_BATCH_MAX``).
"""

from __future__ import annotations

import bisect
import csv
import fcntl
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import msgspec
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from shared.client.api_client import (
    ApiRefused,
    ApiUnavailable,
    Pause,
    RetryPolicy,
    call_with_retries,
)
from shared.errors import ServiceError
from shared.wire import Encrypted, ItemError

__all__ = [
    "FORMATS",
    "ROW_INVALID",
    "TOKEN_FIELD",
    "BatchEncryptor",
    "BulkOptions",
    "Format",
    "InputInvalid",
    "OutputInvalid",
    "Progress",
    "Row",
    "RowSigner",
    "Summary",
    "count_rows",
    "detect_format",
    "encrypt_file",
    "first_tokens",
    "read_rows",
]

Format = Literal["csv", "jsonl"]
FORMATS: Final[dict[str, Format]] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: The field (CSV column, JSONL key) holding a row's token.
TOKEN_FIELD: Final = "token"  # noqa: S105 - a field name, not a secret
#: The code of a line that is not a usable row (not JSON, not an object, a bad cell).
ROW_INVALID: Final = "ROW_INVALID"
#: Item codes that are not the token's fault: the row is retried, never written as refused.
_RETRYABLE_ITEM_CODES: Final = frozenset({"UNKNOWN"})
_TIME_CLAIMS: Final = frozenset({"exp", "iat", "nbf"})
#: Rows listed per code in the summary.
_EXAMPLES: Final = 10


class InputInvalid(ServiceError):
    """The input file cannot be read as rows, or rows need a key that was not given."""

    code = "INPUT_INVALID"


class OutputInvalid(ServiceError):
    """The output file cannot be resumed: unreadable, corrupt, or from another input."""

    code = "OUTPUT_INVALID"


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One input row: a token to send, claims to sign, or why it is unusable."""

    number: int
    id: Any = msgspec.UNSET
    token: str | None = None
    claims: dict[str, Any] | None = None
    problem: str | None = None


class _RowError(msgspec.Struct, frozen=True):
    code: str
    detail: str


class _Done(msgspec.Struct, kw_only=True):
    row: int
    id: Any = msgspec.UNSET
    token: str
    kid: str


class _Refused(msgspec.Struct, kw_only=True):
    row: int
    id: Any = msgspec.UNSET
    error: _RowError


class _Seen(msgspec.Struct):
    """What a resumed run needs from an output line."""

    row: int
    error: _RowError | None = None


# --- reading the input ----------------------------------------------------------------


def detect_format(path: Path, given: Format | None = None) -> Format:
    """``given``, or the format named by the file's extension.

    Raises:
        InputInvalid: an extension we do not know, and no ``given``.
    """
    if given is not None:
        return given
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputInvalid(f"cannot tell the format of {path.name!r}: name it .csv or .jsonl")
    return fmt


def _jsonl_records(path: Path) -> Iterator[bytes]:
    with _open(path, "rb") as file:
        for index, line in enumerate(file):
            if index == 0 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # noqa: PLW2901 - a BOM (some editors add one) is not data
            if line.strip():
                yield line


def _csv_records(path: Path) -> Iterator[list[str]]:
    """Every non-empty CSV record, the header first."""
    with _open(path, "r") as file:
        reader = csv.reader(file)
        try:
            for record in reader:
                if record:
                    yield record
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputInvalid(f"{path.name} line {reader.line_num}: {exc}") from None


def _open(path: Path, mode: Literal["r", "rb"]) -> Any:
    try:
        if mode == "rb":
            return path.open("rb")
        return path.open("r", newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputInvalid(f"cannot read {path}: {exc.strerror}") from None


def count_rows(path: Path, fmt: Format) -> int:
    """How many rows ``read_rows`` yields (a quick pass, for progress and checks)."""
    if fmt == "jsonl":
        return sum(1 for _ in _jsonl_records(path))
    return max(0, sum(1 for _ in _csv_records(path)) - 1)


def read_rows(
    path: Path, fmt: Format, *, token_field: str = TOKEN_FIELD, id_field: str | None = None
) -> Iterator[Row]:
    """The rows of ``path``, streamed (see the module docstring for the row model).

    Raises:
        InputInvalid: unreadable file, bad CSV header, or an ``id_field`` it lacks.
    """
    if fmt == "jsonl":
        for number, line in enumerate(_jsonl_records(path), start=1):
            yield _jsonl_row(number, line, token_field, id_field)
        return
    records = _csv_records(path)
    header = next(records, None)
    if header is None:
        return
    _check_header(header, id_field)
    token_at = header.index(token_field) if token_field in header else None
    id_at = header.index(id_field) if id_field is not None else None
    for number, cells in enumerate(records, start=1):
        row_id = cells[id_at] if id_at is not None and id_at < len(cells) else msgspec.UNSET
        if len(cells) > len(header):
            yield Row(
                number=number, id=row_id, problem=f"{len(cells)} cells for {len(header)} columns"
            )
        elif token_at is not None:
            token = cells[token_at] if token_at < len(cells) else ""
            yield Row(number=number, id=row_id, token=token)
        else:
            yield _csv_claims_row(number, row_id, header, cells)


def _check_header(header: list[str], id_field: str | None) -> None:
    if any(not name.strip() for name in header):
        raise InputInvalid("the CSV header has a column without a name")
    if len(set(header)) != len(header):
        raise InputInvalid("the CSV header names a column twice")
    if id_field is not None and id_field not in header:
        raise InputInvalid(f"the CSV header has no {id_field!r} column (--id-field)")


def _jsonl_row(number: int, line: bytes, token_field: str, id_field: str | None) -> Row:
    try:
        value = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return Row(number=number, problem="not valid JSON")
    if not isinstance(value, dict):
        return Row(number=number, problem="not a JSON object")
    row_id = value.get(id_field, msgspec.UNSET) if id_field is not None else msgspec.UNSET
    if token_field in value:
        token = value[token_field]
        if not isinstance(token, str):
            return Row(number=number, id=row_id, problem=f"{token_field!r} is not a string")
        return Row(number=number, id=row_id, token=token)
    claims = {k: v for k, v in value.items() if not k.startswith("_")}
    return Row(number=number, id=row_id, claims=claims)


def _csv_claims_row(number: int, row_id: Any, header: list[str], cells: list[str]) -> Row:
    claims: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=False):
        if name.startswith("_") or cell == "":
            continue
        value: Any = cell
        if name.endswith(":json"):
            name = name.removesuffix(":json")  # noqa: PLW2901 - the claim's own name
            try:
                value = msgspec.json.decode(cell)
            except msgspec.DecodeError:
                return Row(number=number, id=row_id, problem=f"column {name!r}: not valid JSON")
        elif name in _TIME_CLAIMS:
            value = _number(cell)
        target = claims
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                return Row(
                    number=number, id=row_id, problem=f"column {name!r}: {parent!r} is set twice"
                )
        if leaf in target:  # `profile` after `profile.email`, or a column given twice
            return Row(number=number, id=row_id, problem=f"column {name!r}: {leaf!r} is set twice")
        target[leaf] = value
    return Row(number=number, id=row_id, claims=claims)


def _number(cell: str) -> int | float | str:
    """A number if the cell is one; else the text, which the API then refuses by name."""
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def first_tokens(
    path: Path, fmt: Format, *, token_field: str = TOKEN_FIELD, limit: int = 10
) -> list[str]:
    """The first ``limit`` tokens of the input (candidates for a ``jwt-bearer`` exchange)."""
    found: list[str] = []
    for row in read_rows(path, fmt, token_field=token_field):
        if row.token:
            found.append(row.token)
            if len(found) == limit:
                break
    return found


# --- signing rows ---------------------------------------------------------------------


class RowSigner:
    """Signs a row's claims into a JWS, as the customer's backend would.

    ``expires_in`` sets ``exp`` (and ``iat`` if absent) from now for rows without ``exp``;
    ``campaign_id`` sets ``campaignId`` for rows without one.
    """

    def __init__(
        self,
        key: RSAKey | ECKey | OctKey,
        alg: str,
        *,
        kid: str | None = None,
        expires_in: int | None = None,
        campaign_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._alg = alg
        self._header: dict[str, Any] = {"alg": alg, **({"kid": kid} if kid else {})}
        self._expires_in = expires_in
        self._campaign_id = campaign_id
        self._clock = clock

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of ``claims`` (plus the defaults above)."""
        claims = dict(claims)
        if self._campaign_id is not None:
            claims.setdefault("campaignId", self._campaign_id)
        if self._expires_in is not None and "exp" not in claims:
            now = int(self._clock())
            claims.setdefault("iat", now)
            claims["exp"] = now + self._expires_in
        return jwt.encode(self._header, claims, self._key, algorithms=[self._alg])


# --- the output file --------------------------------------------------------------------


class _Ledger:
    """What the output holds: done rows, and outcomes by code (all runs)."""

    def __init__(self) -> None:
        self.done: set[int] = set()
        self.encrypted = 0
        self.refused: Counter[str] = Counter()
        self.examples: dict[str, list[int]] = {}

    def record(self, row: int, code: str | None) -> None:
        if row in self.done:
            raise OutputInvalid(f"row {row} is in the output twice: it was not written by us")
        self.done.add(row)
        if code is None:
            self.encrypted += 1
            return
        self.refused[code] += 1
        examples = self.examples.setdefault(code, [])
        if len(examples) < _EXAMPLES or row < examples[-1]:
            bisect.insort(examples, row)  # the first rows in file order, whatever the
            del examples[_EXAMPLES:]  # order the answers came in


class _Output:
    """The output file, locked against a second run, repaired and read back."""

    def __init__(self, path: Path) -> None:
        try:
            # 0600: the JWEs let anyone holding them into a campaign as these participants.
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise OutputInvalid(f"cannot open {path}: {exc.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise OutputInvalid(f"{path} is being written by another run") from None
        self.ledger = _Ledger()
        self.repaired = False
        #: Held by each write; once closed, late writers (an interrupted run's workers)
        #: write nothing, rather than into whatever file reuses the descriptor.
        self.lock = threading.Lock()
        self.closed = False
        try:
            self._scan(path)
        except BaseException:
            os.close(self.fd)
            raise

    def _scan(self, path: Path) -> None:
        good = 0  # bytes of complete lines
        with path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                if not line.endswith(b"\n"):
                    break  # torn: a run was killed while writing this line
                try:
                    seen = msgspec.json.decode(line, type=_Seen)
                except msgspec.DecodeError:
                    raise OutputInvalid(
                        f"{path} line {number} is not one of our result lines; "
                        "it cannot be resumed (write to a new file)"
                    ) from None
                self.ledger.record(seen.row, seen.error.code if seen.error else None)
                good += len(line)
        if os.fstat(self.fd).st_size > good:
            os.ftruncate(self.fd, good)
            self.repaired = True

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                os.fsync(self.fd)
            finally:
                os.close(self.fd)


# --- the run ----------------------------------------------------------------------------


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


class Summary(msgspec.Struct, kw_only=True):
    """The output's state after a run, and what this run did."""

    total: int
    #: Rows the output already held when this run started.
    already_done: int
    #: Rows this run wrote.
    written: int
    encrypted: int
    refused: int
    refused_by_code: dict[str, int]
    #: The first rows (in file order) refused with each code.
    refused_rows: dict[str, list[int]]
    #: Rows not in the output: a rerun does them.
    not_done: int
    #: Rows this run gave up on, by the code of their last failure (the rest of
    #: ``not_done`` were not attempted once the API was found unavailable).
    failed_by_code: dict[str, int]
    failed_rows: list[int]
    repaired: bool
    elapsed: float
    rows_per_second: float

    @property
    def complete(self) -> bool:
        """Every row has its line in the output."""
        return self.not_done == 0


class _Stopped(Exception):
    """The run is stopping: leave this batch for a rerun."""


class _Run:
    """One run: the main thread reads rows and queues batches; ``concurrency`` workers sign,
    send (with retries) and write."""

    def __init__(
        self,
        output: _Output,
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
        lines: list[_Line] = []
        items: list[tuple[Row, str]] = []
        for row in rows:
            if row.problem is not None:
                lines.append(_refused(row, ROW_INVALID, row.problem))
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
                    lines.append(_done(row, result))
                elif result.code in _RETRYABLE_ITEM_CODES:
                    again.append((row, token))
                    code = result.code
                else:
                    lines.append(_refused(row, result.code, result.detail))
            self._write(lines)
            if again and retries >= self._options.retry.retries:
                self._give_up(again, code)
                return
            if again:
                self._sleep(self._options.retry.backoff(retries))
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
            )
        except ApiRefused as exc:
            if exc.status != 413:
                raise
            if len(items) == 1:  # too large on its own: that is the token's problem
                return [ItemError(code=exc.code, detail=exc.detail)]
            with self._lock:
                self._too_large = min(self._too_large, len(items))
            return self._call(items)

    def _give_up(self, items: list[tuple[Row, str]], code: str) -> None:
        """The API stayed unavailable through the retries: these rows are not written, and
        the run stops (the rest would fail the same way); a rerun does them."""
        with self._lock:
            self.failed[code] += len(items)
            room = 100 - len(self.failed_rows)
            self.failed_rows.extend(row.number for row, _ in items[:room])
        self._stop.set()

    def _write(self, lines: list[_Line]) -> None:
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


#: An output line with what the ledger records of it: row, refusal code (None: encrypted).
_Line = tuple[int, str | None, bytes]


def _done(row: Row, result: Encrypted) -> _Line:
    line = _Done(row=row.number, id=row.id, token=result.token, kid=result.kid)
    return row.number, None, msgspec.json.encode(line) + b"\n"


def _refused(row: Row, code: str, detail: str) -> _Line:
    line = _Refused(row=row.number, id=row.id, error=_RowError(code, detail))
    return row.number, code, msgspec.json.encode(line) + b"\n"


def encrypt_file(
    source: Path,
    out: Path,
    client: BatchEncryptor,
    *,
    options: BulkOptions | None = None,
    signer: RowSigner | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Encrypt every row of ``source`` not yet in ``out`` (see the module docstring).

    Returns the summary; ``summary.complete`` is False when rows remain for a rerun.

    Raises:
        InputInvalid: the input cannot be read, or rows need ``signer``.
        OutputInvalid: ``out`` is locked by another run, corrupt, or from another input.
        ApiRefused: the API refused the run itself (bearer, account, request): nothing
            more is sent; rows written so far stay valid.
    """
    options = options or BulkOptions()
    fmt = detect_format(source, options.format)
    started = time.monotonic()
    total = count_rows(source, fmt)  # before OUT is created: the input must be readable
    output = _Output(out)
    try:
        ledger = output.ledger
        already = len(ledger.done)
        if ledger.done and max(ledger.done) > total:
            raise OutputInvalid(
                f"{out} holds row {max(ledger.done)} but the input has {total} rows: "
                "it was written for another input"
            )
        if progress is not None:
            progress.start(total, already)
        run = _Run(output, client, options, signer, progress)
        try:
            if already < total:
                rows = read_rows(
                    source, fmt, token_field=options.token_field, id_field=options.id_field
                )
                run.feed(rows, set(ledger.done))
        finally:
            if progress is not None:
                progress.close()
        if run.fatal is not None:
            raise run.fatal
    finally:
        output.close()
    elapsed = time.monotonic() - started
    return Summary(
        total=total,
        already_done=already,
        written=run.written,
        encrypted=ledger.encrypted,
        refused=sum(ledger.refused.values()),
        refused_by_code=dict(ledger.refused.most_common()),
        refused_rows=ledger.examples,
        not_done=total - len(ledger.done),
        failed_by_code=dict(run.failed.most_common()),
        failed_rows=sorted(run.failed_rows),
        repaired=output.repaired,
        elapsed=round(elapsed, 3),
        rows_per_second=round(run.written / elapsed, 1) if elapsed > 0 else 0.0,
    )
