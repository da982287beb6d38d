"""The output file of a bulk encryption: its lines, its lock, and reading it back to resume.

JSON Lines, one line per row, in completion order (not input order):
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
"""

from __future__ import annotations

import bisect
import fcntl
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Final

import msgspec

from shared.client.rows import Row
from shared.errors import ServiceError
from shared.wire import Encrypted

__all__ = ["Line", "OutputFile", "OutputInvalid", "done_line", "refused_line"]

#: Rows listed per code in the summary.
_EXAMPLES: Final = 10


class OutputInvalid(ServiceError):
    """The output file cannot be resumed: unreadable, corrupt, or from another input."""

    code = "OUTPUT_INVALID"


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


class OutputFile:
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


#: An output line with what the ledger records of it: row, refusal code (None: encrypted).
Line = tuple[int, str | None, bytes]


def done_line(row: Row, result: Encrypted) -> Line:
    line = _Done(row=row.number, id=row.id, token=result.token, kid=result.kid)
    return row.number, None, msgspec.json.encode(line) + b"\n"


def refused_line(row: Row, code: str, detail: str) -> Line:
    line = _Refused(row=row.number, id=row.id, error=_RowError(code, detail))
    return row.number, code, msgspec.json.encode(line) + b"\n"
