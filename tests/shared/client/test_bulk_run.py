"""A bulk run tells its progress when and for how long it waits (429s, retries)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from shared.client import BulkOptions, RetryPolicy
from shared.client import bulk_encrypt as bulk
from shared.client.errors import ApiRateLimited, ApiUnavailable
from shared.wire import Encrypted, ItemError


class Recorder:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.waits: list[tuple[float, str]] = []
        self.done = 0

    def start(self, total: int, done: int) -> None:
        self.done = done

    def advance(self, rows: int) -> None:
        self.done += rows

    def waiting(self, seconds: float, reason: str) -> None:
        self.waits.append((seconds, reason))

    def close(self) -> None:
        pass


class Refusing:
    """Answers the first calls with the given errors, then fake JWEs."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)

    def encrypt_batch(self, tokens: Sequence[str]) -> list[Encrypted | ItemError]:
        if self.errors:
            raise self.errors.pop(0)
        return [Encrypted(token=f"jwe-of-{t}", kid="k/1") for t in tokens]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ApiRateLimited("RATE_LIMITED", "slow down", status=429, retry_after=0.2),
         "rate limited (429)"),
        (ApiUnavailable("API_UNREACHABLE", "cannot reach", retry_after=0.2),
         "API_UNREACHABLE, retrying"),
    ],
    ids=["429", "unreachable"],
)  # fmt: skip
def test_the_progress_hears_of_each_wait_and_its_length(
    tmp_path: Path, error: Exception, reason: str
) -> None:
    """A 429 (or an outage) makes the run tell its progress it waits, for Retry-After at
    least, and why; then the rows are written."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"token": "t{i}"}}\n' for i in range(3)))
    progress = Recorder()
    summary = bulk.encrypt_file(
        source,
        tmp_path / "out.jsonl",
        Refusing(error),
        options=BulkOptions(concurrency=1, retry=RetryPolicy(base_delay=0.01)),
        progress=progress,
    )
    assert summary.complete
    assert progress.done == 3
    [(seconds, told)] = progress.waits
    assert told == reason
    assert 0.2 <= seconds <= 0.5
