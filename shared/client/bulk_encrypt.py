"""Encrypt a file of secure tokens through the Crypto API's batch endpoint, resumably.

:func:`encrypt_file` reads the rows of the input (:mod:`shared.client.rows`), signs those
that hold claims (:mod:`shared.client.row_signer`), sends them in batches
(:mod:`shared.client.bulk_run`) and writes one line per row to the output, which a rerun
resumes (:mod:`shared.client.output_file`).
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from shared.client.bulk_run import BatchEncryptor, BulkOptions, BulkRun, Progress
from shared.client.output_file import OutputFile, OutputInvalid
from shared.client.row_signer import RowSigner
from shared.client.rows import count_rows, detect_format, read_rows

__all__ = ["Summary", "encrypt_file"]


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


def encrypt_file(
    source: Path,
    out: Path,
    client: BatchEncryptor,
    *,
    options: BulkOptions | None = None,
    signer: RowSigner | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Encrypt every row of ``source`` not yet in ``out`` (see :mod:`shared.client.output_file`).

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
    output = OutputFile(out)
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
        run = BulkRun(output, client, options, signer, progress)
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
